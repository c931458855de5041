/*
 * localai nodes|models|events|status: the admin CLI; see cli.h and
 * docs/operations.md.  Admin routes used (JSON as the router produces):
 *	GET    /api/nodes			nodes list, name resolution
 *	GET    /api/nodes/:id/models		nodes show
 *	POST   /api/nodes/:id/approve|drain|resume
 *	DELETE /api/nodes/:id			nodes remove
 *	PATCH  /api/nodes/:id/labels {k:v}	nodes labels k=v (merge)
 *	DELETE /api/nodes/:id/labels/:key	nodes labels k-
 *	GET    /api/models			models list, models unload
 *	POST   /api/models/:name/load		models load
 *	POST   /api/nodes/:id/models/unload {"model_name"}
 *	GET    /api/events?limit=N		events
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "supervisor/cli.h"
#include "supervisor/cli_impl.h"

/* One HTTP answer. */
struct cli_resp {
	long status;
	char *body;
	size_t len;
};

/* ---- HTTP --------------------------------------------------------------- */

static size_t
cli_http_write(char *data, size_t size, size_t n, void *arg)
{
	struct cli_resp *r = arg;
	char *nb;

	if (r->len + size * n > CLI_BODY_MAX)
		return 0; /* libcurl stops: CURLE_WRITE_ERROR */
	if ((nb = realloc(r->body, r->len + size * n + 1)) == NULL)
		return 0;
	r->body = nb;
	memcpy(r->body + r->len, data, size * n);
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

/* A path segment, %-escaped (node ids, model names, label keys). */
static char *
cli_escape(struct cli *c, const char *s)
{
	char *e = curl_easy_escape(c->curl, s, 0), *copy;

	copy = cli_strdup(cli_check_alloc(e));
	curl_free(e);
	return copy;
}

static int
cli_curl_setup(struct cli *c, const char *method, const char *url,
    const char *body, struct curl_slist *h, struct cli_resp *r)
{
	CURL *k = c->curl;

	curl_easy_reset(k);
	if (curl_easy_setopt(k, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "http,https") !=
	        CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT_MS,
	        (long)CLI_CONNECT_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_TIMEOUT, c->timeout_s) != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_USERAGENT, "localai-cli") != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_HTTPHEADER, h) != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, cli_http_write) !=
	        CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_WRITEDATA, r) != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK)
		return -1;
	if (body != NULL &&
	    (curl_easy_setopt(k, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	        curl_easy_setopt(
	            k, CURLOPT_POSTFIELDSIZE, (long)strlen(body)) != CURLE_OK))
		return -1;
	return 0;
}

/*
 * One request.  Returns 0 with *r filled (any HTTP status), or an exit
 * code after saying why no answer came.
 */
static int
cli_http(struct cli *c, const char *method, const char *path, const char *body,
    struct cli_resp *r)
{
	struct curl_slist *h = NULL, *nh;
	char *url, *auth = NULL;
	CURLcode rc;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	url = cli_asprintf("%s%s", c->url, path);
	h = curl_slist_append(h, "Accept: application/json");
	if (h != NULL && body != NULL && *body &&
	    (nh = curl_slist_append(h, "Content-Type: application/json")) !=
	        NULL)
		h = nh;
	if (h != NULL && c->key != NULL) {
		auth = cli_asprintf("Authorization: Bearer %s", c->key);
		if ((nh = curl_slist_append(h, auth)) != NULL)
			h = nh;
	}
	/* POST, PATCH, DELETE send a body, empty if need be. */
	if (body == NULL && strcmp(method, "GET") != 0)
		body = "";
	if (h == NULL || cli_curl_setup(c, method, url, body, h, r) == -1) {
		cli_err("cannot set up the HTTP request");
		ret = CLI_EXIT_API;
	} else if ((rc = curl_easy_perform(c->curl)) != CURLE_OK) {
		if (rc == CURLE_URL_MALFORMAT ||
		    rc == CURLE_UNSUPPORTED_PROTOCOL) {
			cli_err(
			    "bad --url %s: %s", c->url, curl_easy_strerror(rc));
			ret = CLI_EXIT_USAGE;
		} else {
			cli_err("cannot reach the frontend at %s: %s (is it "
			        "running? set --url or LOCALAI_URL)",
			    c->url, curl_easy_strerror(rc));
			ret = CLI_EXIT_UNREACHABLE;
		}
	} else
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (auth != NULL) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	curl_slist_free_all(h);
	free(url);
	return ret;
}

/* The message of an error answer, in whichever shape it came. */
static char *
cli_error_message(json_t *j, const struct cli_resp *r)
{
	json_t *e = json_object_get(j, "error");
	const char *m = NULL;

	if (json_is_object(e))
		m = cli_jstr(e, "message");
	else if (json_is_string(e))
		m = json_string_value(e);
	else if (json_is_string(json_object_get(j, "message")))
		m = cli_jstr(j, "message");
	if (m != NULL)
		return cli_strdup(m);
	if (r->len > 0 && r->len < 200 && j == NULL)
		return cli_asprintf("%s", r->body);
	return cli_asprintf("HTTP %ld", r->status);
}

/*
 * Map an answer to an exit code, printing why it failed; on success
 * *out is the parsed body (NULL for an empty one).  what names the
 * thing asked for, for "not found" messages.
 */
static int
cli_answer(struct cli *c, struct cli_resp *r, const char *what, json_t **out)
{
	json_error_t jerr;
	json_t *j = NULL;
	char *msg;
	int ret;

	*out = NULL;
	if (r->len > 0)
		j = json_loadb(r->body, r->len, JSON_DECODE_ANY, &jerr);
	if (r->status >= 200 && r->status < 300 && (j != NULL || r->len == 0)) {
		if (json_is_false(json_object_get(j, "success"))) {
			msg = cli_error_message(j, r);
			cli_err("%s: %s", what, msg);
			free(msg);
			json_decref(j);
			return CLI_EXIT_API;
		}
		*out = j;
		return CLI_EXIT_OK;
	}
	msg = cli_error_message(j, r);
	if (r->status == 401 || r->status == 403) {
		if (c->key == NULL)
			cli_err("the frontend wants an admin key: pass "
			        "--admin-key or set LOCALAI_ADMIN_KEY");
		else
			cli_err("the admin key was refused by %s (%s)", c->url,
			    msg);
		ret = CLI_EXIT_UNAUTHORIZED;
	} else if (r->status == 404) {
		cli_err("%s: not found (%s)", what, msg);
		ret = CLI_EXIT_NOT_FOUND;
	} else if (r->status >= 200 && r->status < 300) {
		cli_err("%s: the frontend's answer is not JSON", what);
		ret = CLI_EXIT_API;
	} else {
		cli_err(
		    "%s: the frontend answered %ld: %s", what, r->status, msg);
		ret = CLI_EXIT_API;
	}
	free(msg);
	json_decref(j);
	return ret;
}

/* Request + answer: 0 with *out set, or an exit code. */
static int
cli_call(struct cli *c, const char *method, const char *path, json_t *body,
    const char *what, json_t **out)
{
	struct cli_resp r;
	char *text = NULL;
	int ret;

	*out = NULL;
	if (body != NULL)
		text = cli_check_alloc(json_dumps(body, JSON_COMPACT));
	ret = cli_http(c, method, path, text, &r);
	free(text);
	if (ret == 0)
		ret = cli_answer(c, &r, what, out);
	free(r.body);
	return ret;
}

/* GET that must answer a JSON array. */
static int
cli_get_array(struct cli *c, const char *path, const char *what, json_t **out)
{
	int ret = cli_call(c, "GET", path, NULL, what, out);

	if (ret == 0 && !json_is_array(*out)) {
		cli_err("%s: the frontend's answer is not a list", what);
		json_decref(*out);
		*out = NULL;
		return CLI_EXIT_API;
	}
	return ret;
}

/*
 * The node called arg (its id, else its unique name), from a fresh
 * GET /api/nodes.  *node is a new reference.
 */
static int
cli_node_find(struct cli *c, const char *arg, json_t **node)
{
	json_t *nodes, *n, *found = NULL;
	size_t i, byname = 0;
	int ret;

	*node = NULL;
	if ((ret = cli_get_array(c, "/api/nodes", "nodes", &nodes)) != 0)
		return ret;
	json_array_foreach(nodes, i, n)
	{
		if (cli_jstr(n, "id") != NULL &&
		    strcmp(cli_jstr(n, "id"), arg) == 0) {
			found = n;
			byname = 1;
			break;
		}
		if (cli_jstr(n, "name") != NULL &&
		    strcmp(cli_jstr(n, "name"), arg) == 0 && byname++ == 0)
			found = n;
	}
	if (found == NULL)
		cli_err("no node \"%s\" (see localai nodes list)", arg);
	else if (byname > 1)
		cli_err(
		    "%zu nodes are called \"%s\": give its id", byname, arg);
	if (found != NULL && byname == 1)
		*node = json_incref(found);
	json_decref(nodes);
	if (*node == NULL)
		return found == NULL ? CLI_EXIT_NOT_FOUND : CLI_EXIT_USAGE;
	return 0;
}

/* ---- nodes -------------------------------------------------------------- */

static void
nodes_table(json_t *nodes)
{
	char ram[48], vram[48], inflight[48], models[24], hb[24], *labels;
	struct cli_table t;
	json_t *n;
	size_t i;

	cli_table_init(&t, 9);
	cli_table_row(&t, "NAME", "STATUS", "IN-FLIGHT", "MODELS", "RAM",
	    "VRAM", "HEARTBEAT", "LABELS", "ID");
	json_array_foreach(nodes, i, n)
	{
		snprintf(inflight, sizeof(inflight), "%.0f/%.0f",
		    cli_jnum(n, "in_flight"), cli_jnum(n, "max_concurrency"));
		snprintf(models, sizeof(models), "%.0f",
		    cli_jnum(n, "models_loaded"));
		labels = cli_fmt_pairs(json_object_get(n, "labels"), ",");
		cli_table_row(&t, cli_jstr(n, "name"), cli_node_status(n),
		    inflight, models,
		    cli_fmt_memory(n, "ram", ram, sizeof(ram)),
		    cli_fmt_memory(n, "vram", vram, sizeof(vram)),
		    cli_fmt_ago(json_object_get(n, "last_heartbeat_ms_ago"), hb,
		        sizeof(hb)),
		    labels, cli_jstr(n, "id"));
		free(labels);
	}
	cli_table_print(&t);
	cli_table_free(&t);
}

static int
nodes_list(struct cli *c)
{
	json_t *nodes;
	int ret;

	if (c->npos != 0)
		return cli_usage("nodes list takes no argument");
	if ((ret = cli_get_array(c, "/api/nodes", "nodes", &nodes)) != 0)
		return ret;
	if (c->json)
		cli_print_json(nodes);
	else
		nodes_table(nodes);
	json_decref(nodes);
	return 0;
}

static void
node_details(json_t *n)
{
	char a[64], b[64], *labels, *backends;

	labels = cli_fmt_pairs(json_object_get(n, "labels"), " ");
	backends = cli_fmt_list(json_object_get(n, "backends"), " ");
	cli_out("Name:       %s\n",
	    cli_jstr(n, "name") ? cli_jstr(n, "name") : "-");
	cli_out(
	    "ID:         %s\n", cli_jstr(n, "id") ? cli_jstr(n, "id") : "-");
	cli_out("Status:     %s\n", cli_node_status(n));
	cli_out("Address:    %s (http %s)\n",
	    cli_jstr(n, "address") ? cli_jstr(n, "address") : "-",
	    cli_jstr(n, "http_address") ? cli_jstr(n, "http_address") : "-");
	cli_out("Labels:     %s\n", *labels ? labels : "-");
	cli_out("RAM:        %s used, %s GiB reserved\n",
	    cli_fmt_memory(n, "ram", a, sizeof(a)),
	    cli_fmt_gib(cli_jnum(n, "reserved_ram"), b, sizeof(b)));
	cli_out("VRAM:       %s", cli_fmt_memory(n, "vram", a, sizeof(a)));
	if (cli_jnum(n, "total_vram") > 0)
		cli_out(" used, %s GiB reserved (%s)",
		    cli_fmt_gib(cli_jnum(n, "reserved_vram"), b, sizeof(b)),
		    cli_jstr(n, "gpu_vendor") ? cli_jstr(n, "gpu_vendor")
		                              : "?");
	cli_out("\nIn flight:  %.0f of %.0f\n", cli_jnum(n, "in_flight"),
	    cli_jnum(n, "max_concurrency"));
	cli_out("Backends:   %s\n", *backends ? backends : "-");
	cli_out("Heartbeat:  %s ago\n",
	    cli_fmt_ago(
	        json_object_get(n, "last_heartbeat_ms_ago"), a, sizeof(a)));
	cli_out("Registered: %s\n",
	    cli_jstr(n, "created_at") ? cli_jstr(n, "created_at") : "-");
	free(labels);
	free(backends);
}

/*
 * A replica's state as the table shows it: "failed: <reason>" when the
 * API gives one (the router sends "error": "" for a replica that did not
 * fail).  Load progress is in `localai models list`'s load jobs.
 */
static char *
replica_state(json_t *r)
{
	const char *st = cli_jstr(r, "state") ? cli_jstr(r, "state") : "-";
	const char *why;

	why = cli_jstr(r, "error") && *cli_jstr(r, "error")
	          ? cli_jstr(r, "error")
	          : cli_jstr(r, "reason");
	if (why != NULL && *why != '\0')
		return cli_asprintf("%s: %s", st, why);
	return cli_strdup(st);
}

static void
replicas_table(json_t *models)
{
	char inflight[24], used[24], *state;
	struct cli_table t;
	json_t *r;
	size_t i;

	cli_table_init(&t, 5);
	cli_table_row(
	    &t, "MODEL", "STATE", "IN-FLIGHT", "LAST-USED", "ADDRESS");
	json_array_foreach(models, i, r)
	{
		snprintf(inflight, sizeof(inflight), "%.0f",
		    cli_jnum(r, "in_flight"));
		state = replica_state(r);
		cli_table_row(&t, cli_jstr(r, "model_name"), state, inflight,
		    cli_fmt_ago(json_object_get(r, "last_used_ms_ago"), used,
		        sizeof(used)),
		    cli_jstr(r, "address"));
		free(state);
	}
	cli_table_print(&t);
	cli_table_free(&t);
}

static int
nodes_show(struct cli *c)
{
	json_t *node, *models, *out;
	char *id, *path;
	int ret;

	if (c->npos != 1)
		return cli_usage("nodes show takes one NODE");
	if ((ret = cli_node_find(c, c->pos[0], &node)) != 0)
		return ret;
	id = cli_escape(c, cli_jstr(node, "id") ? cli_jstr(node, "id") : "");
	path = cli_asprintf("/api/nodes/%s/models", id);
	ret = cli_get_array(c, path, cli_jstr(node, "name"), &models);
	free(path);
	free(id);
	if (ret == 0 && c->json) {
		out = json_pack("{sOsO}", "node", node, "models", models);
		cli_print_json(cli_check_alloc(out));
		json_decref(out);
	} else if (ret == 0) {
		node_details(node);
		cli_out("\n");
		if (json_array_size(models) == 0)
			cli_out("%s\n", "No model is loaded on this node.");
		else
			replicas_table(models);
	}
	json_decref(models);
	json_decref(node);
	return ret;
}

/* approve, drain, resume, remove. */
static int
nodes_action(struct cli *c, const char *action)
{
	const char *name;
	json_t *node, *res;
	char *id, *path;
	int ret, del = strcmp(action, "remove") == 0;

	if (c->npos != 1)
		return cli_usage("nodes %s takes one NODE", action);
	if ((ret = cli_node_find(c, c->pos[0], &node)) != 0)
		return ret;
	name = cli_jstr(node, "name") ? cli_jstr(node, "name") : c->pos[0];
	id = cli_escape(c, cli_jstr(node, "id") ? cli_jstr(node, "id") : "");
	path = del ? cli_asprintf("/api/nodes/%s", id)
	           : cli_asprintf("/api/nodes/%s/%s", id, action);
	ret = cli_call(c, del ? "DELETE" : "POST", path, NULL, name, &res);
	if (ret == 0 && c->json)
		cli_print_json(res);
	else if (ret == 0 && del)
		cli_out("%s: removed\n", name);
	else if (ret == 0)
		cli_out("%s: %s\n", name,
		    cli_jstr(res, "status") ? cli_jstr(res, "status") : "done");
	json_decref(res);
	free(path);
	free(id);
	json_decref(node);
	return ret;
}

/*
 * Split "key=value" / "key-" arguments into the labels to set (an
 * object) and the keys to remove.  Keys are [A-Za-z0-9._/-]+.
 */
static int
labels_parse(struct cli *c, json_t *set, json_t *del)
{
	char *arg, *eq;
	size_t klen;
	int i;

	for (i = 1; i < c->npos; i++) {
		arg = c->pos[i];
		eq = strchr(arg, '=');
		klen = eq ? (size_t)(eq - arg) : strlen(arg);
		if (eq == NULL && klen > 1 && arg[klen - 1] == '-')
			klen--;
		else if (eq == NULL)
			return cli_usage(
			    "label \"%s\": write KEY=VALUE to set, "
			    "KEY- to remove",
			    arg);
		if (klen == 0 ||
		    strspn(arg,
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		        "abcdefghijklmnopqrstuvwxyz0123456789._/-") < klen)
			return cli_usage("bad label key in \"%s\"", arg);
		arg = cli_check_alloc(strndup(arg, klen));
		if (eq != NULL)
			json_object_set_new(set, arg, json_string(eq + 1));
		else
			json_array_append_new(del, json_string(arg));
		free(arg);
	}
	return 0;
}

static int
labels_apply(
    struct cli *c, const char *id, const char *name, json_t *set, json_t *del)
{
	char *path, *key;
	json_t *res, *k;
	size_t i;
	int ret = 0;

	if (json_object_size(set) > 0) {
		path = cli_asprintf("/api/nodes/%s/labels", id);
		ret = cli_call(c, "PATCH", path, set, name, &res);
		json_decref(res);
		free(path);
	}
	json_array_foreach(del, i, k)
	{
		if (ret != 0)
			break;
		key = cli_escape(c, json_string_value(k));
		path = cli_asprintf("/api/nodes/%s/labels/%s", id, key);
		ret = cli_call(c, "DELETE", path, NULL, name, &res);
		json_decref(res);
		free(path);
		free(key);
	}
	return ret;
}

/* One "key=value" line per label, each cleaned of control characters. */
static void
labels_print(json_t *labels)
{
	struct cli_table t;
	const char *k;
	char *line;
	json_t *v;

	cli_table_init(&t, 1);
	json_object_foreach(labels, k, v)
	{
		line = cli_asprintf(
		    "%s=%s", k, json_is_string(v) ? json_string_value(v) : "?");
		cli_table_row(&t, line);
		free(line);
	}
	cli_table_print(&t);
	cli_table_free(&t);
}

/* nodes labels NODE [k=v | k-]...: change, then show the labels. */
static int
nodes_labels(struct cli *c)
{
	json_t *node, *set, *del, *labels;
	char *id;
	int ret;

	if (c->npos < 1)
		return cli_usage("nodes labels takes a NODE");
	set = cli_check_alloc(json_object());
	del = cli_check_alloc(json_array());
	if ((ret = labels_parse(c, set, del)) == 0 &&
	    (ret = cli_node_find(c, c->pos[0], &node)) == 0) {
		id = cli_escape(
		    c, cli_jstr(node, "id") ? cli_jstr(node, "id") : "");
		ret = labels_apply(c, id, cli_jstr(node, "name"), set, del);
		free(id);
		if (ret == 0 && c->npos > 1) {
			json_decref(node);
			ret = cli_node_find(c, c->pos[0], &node);
		}
		labels = json_object_get(node, "labels");
		if (ret == 0 && c->json)
			cli_print_json(labels);
		else if (ret == 0)
			labels_print(labels);
		json_decref(node);
	}
	json_decref(set);
	json_decref(del);
	return ret;
}

static int
cli_nodes(struct cli *c)
{
	const char *sub;

	if (c->npos == 0)
		return cli_usage("nodes: which action?");
	sub = c->pos[0];
	memmove(c->pos, c->pos + 1, --c->npos * sizeof(c->pos[0]));
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
		return nodes_list(c);
	if (strcmp(sub, "show") == 0)
		return nodes_show(c);
	if (strcmp(sub, "approve") == 0 || strcmp(sub, "drain") == 0 ||
	    strcmp(sub, "resume") == 0 || strcmp(sub, "remove") == 0)
		return nodes_action(c, sub);
	if (strcmp(sub, "labels") == 0)
		return nodes_labels(c);
	return cli_usage("nodes: unknown action \"%s\"", sub);
}

/* ---- models ------------------------------------------------------------- */

/*
 * The load jobs of every model (GET /api/models' load_jobs) under the
 * models table, when there are any: in progress (waiting-for-memory, or
 * loading with node, progress and time since it started) and the last
 * failed one (node, time since, the backend's reason).
 */
static void
loads_table(json_t *models)
{
	char progress[16], ago[24];
	struct cli_table t;
	json_t *m, *j;
	size_t i, k;
	int failed;

	cli_table_init(&t, 6);
	cli_table_row(
	    &t, "MODEL", "LOAD", "NODE", "PROGRESS", "SINCE", "ERROR");
	json_array_foreach(models, i, m)
	{
		json_array_foreach(json_object_get(m, "load_jobs"), k, j)
		{
			failed = cli_jstr(j, "state") &&
			         strcmp(cli_jstr(j, "state"), "failed") == 0;
			snprintf(progress, sizeof(progress), "%.0f%%",
			    cli_jnum(j, "progress"));
			cli_table_row(&t, cli_jstr(m, "name"),
			    cli_jstr(j, "state"), cli_jstr(j, "node_name"),
			    failed ? "-" : progress,
			    cli_fmt_ago(
			        json_object_get(
			            j, failed ? "failed_ms_ago" : "elapsed_ms"),
			        ago, sizeof(ago)),
			    failed ? cli_jstr(j, "error") : "-");
		}
	}
	if (t.nrows > 1) {
		printf("\n");
		cli_table_print(&t);
	}
	cli_table_free(&t);
}

static void
models_table(json_t *models)
{
	char ready[32], loading[16], queue[16], minmax[32], *where, *next;
	struct cli_table t;
	json_t *m, *r, *reps;
	size_t i, j, nready, nloading;

	cli_table_init(&t, 7);
	cli_table_row(&t, "NAME", "BACKEND", "READY", "LOADING", "QUEUE",
	    "MIN/MAX", "NODES");
	json_array_foreach(models, i, m)
	{
		reps = json_object_get(m, "replicas");
		nready = nloading = 0;
		where = cli_strdup("");
		json_array_foreach(reps, j, r)
		{
			nready += cli_jstr(r, "state") &&
			          strcmp(cli_jstr(r, "state"), "ready") == 0;
			nloading +=
			    cli_jstr(r, "state") &&
			    strcmp(cli_jstr(r, "state"), "loading") == 0;
			next = cli_asprintf("%s%s%s:%s", where,
			    *where ? "," : "",
			    cli_jstr(r, "node_name") ? cli_jstr(r, "node_name")
			                             : "?",
			    cli_jstr(r, "state") ? cli_jstr(r, "state") : "?");
			free(where);
			where = next;
		}
		snprintf(ready, sizeof(ready), "%zu/%zu", nready,
		    json_array_size(reps));
		snprintf(loading, sizeof(loading), "%zu", nloading);
		snprintf(
		    queue, sizeof(queue), "%.0f", cli_jnum(m, "queue_length"));
		snprintf(minmax, sizeof(minmax), "%.0f/%.0f",
		    cli_jnum(m, "replicas_min"), cli_jnum(m, "replicas_max"));
		cli_table_row(&t, cli_jstr(m, "name"), cli_jstr(m, "backend"),
		    ready, loading, queue, minmax, where);
		free(where);
	}
	cli_table_print(&t);
	cli_table_free(&t);
	loads_table(models);
}

static int
models_list(struct cli *c)
{
	json_t *models;
	int ret;

	if (c->npos != 0)
		return cli_usage("models list takes no argument");
	if ((ret = cli_get_array(c, "/api/models", "models", &models)) != 0)
		return ret;
	if (c->json)
		cli_print_json(models);
	else
		models_table(models);
	json_decref(models);
	return 0;
}

static int
models_load(struct cli *c)
{
	char *name, *path;
	json_t *res;
	int ret;

	if (c->npos != 1)
		return cli_usage("models load takes one MODEL");
	name = cli_escape(c, c->pos[0]);
	path = cli_asprintf("/api/models/%s/load", name);
	ret = cli_call(c, "POST", path, NULL, c->pos[0], &res);
	if (ret == 0 && c->json)
		cli_print_json(res);
	else if (ret == 0 && cli_jstr(res, "node_id") != NULL)
		cli_out("%s: %s on node %s\n", c->pos[0],
		    cli_jstr(res, "state") ? cli_jstr(res, "state") : "loading",
		    cli_jstr(res, "node_id"));
	else if (ret == 0)
		cli_out("%s: load requested\n", c->pos[0]);
	json_decref(res);
	free(path);
	free(name);
	return ret;
}

/* POST …/models/unload for model on the node with this id and name. */
static int
unload_one(struct cli *c, const char *model, const char *id, const char *name,
    json_t *results)
{
	json_t *body, *res;
	char *eid, *path, *what;
	int ret;

	eid = cli_escape(c, id);
	path = cli_asprintf("/api/nodes/%s/models/unload", eid);
	what = cli_asprintf("%s on %s", model, name);
	body = cli_check_alloc(json_pack("{ss}", "model_name", model));
	ret = cli_call(c, "POST", path, body, what, &res);
	if (ret == 0 && c->json)
		json_array_append_new(
		    results, json_pack("{sssssO?}", "node_id", id, "node_name",
		                 name, "result", res));
	else if (ret == 0)
		cli_out("%s: unloading from %s\n", model, name);
	json_decref(res);
	json_decref(body);
	free(what);
	free(path);
	free(eid);
	return ret;
}

/* The replicas of model from GET /api/models, or an exit code. */
static int
model_replicas(struct cli *c, const char *model, json_t **reps)
{
	json_t *models, *m;
	size_t i;
	int ret;

	*reps = NULL;
	if ((ret = cli_get_array(c, "/api/models", "models", &models)) != 0)
		return ret;
	json_array_foreach(
	    models, i, m) if (cli_jstr(m, "name") &&
	                      strcmp(cli_jstr(m, "name"), model) == 0) *reps =
	    json_incref(json_object_get(m, "replicas"));
	json_decref(models);
	if (*reps == NULL) {
		cli_err("no model \"%s\" (see localai models list)", model);
		return CLI_EXIT_NOT_FOUND;
	}
	return 0;
}

/* models unload MODEL [--node NODE]: from one node, or from every one. */
static int
models_unload(struct cli *c)
{
	json_t *node, *reps, *r, *results;
	size_t i;
	int ret;

	if (c->npos != 1)
		return cli_usage("models unload takes one MODEL");
	results = cli_check_alloc(json_array());
	if (c->node != NULL) {
		if ((ret = cli_node_find(c, c->node, &node)) == 0)
			ret = unload_one(c, c->pos[0],
			    cli_jstr(node, "id") ? cli_jstr(node, "id") : "",
			    cli_jstr(node, "name") ? cli_jstr(node, "name")
			                           : c->node,
			    results);
		json_decref(node);
	} else if ((ret = model_replicas(c, c->pos[0], &reps)) == 0) {
		if (json_array_size(reps) == 0) {
			cli_err("%s is not loaded on any node", c->pos[0]);
			ret = CLI_EXIT_NOT_FOUND;
		}
		json_array_foreach(reps, i, r)
		{
			if (ret != 0)
				break;
			ret = unload_one(c, c->pos[0],
			    cli_jstr(r, "node_id") ? cli_jstr(r, "node_id")
			                           : "",
			    cli_jstr(r, "node_name") ? cli_jstr(r, "node_name")
			                             : "?",
			    results);
		}
		json_decref(reps);
	}
	if (ret == 0 && c->json)
		cli_print_json(results);
	json_decref(results);
	return ret;
}

static int
cli_models(struct cli *c)
{
	const char *sub;

	if (c->npos == 0)
		return cli_usage("models: which action?");
	sub = c->pos[0];
	memmove(c->pos, c->pos + 1, --c->npos * sizeof(c->pos[0]));
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
		return models_list(c);
	if (strcmp(sub, "load") == 0)
		return models_load(c);
	if (strcmp(sub, "unload") == 0)
		return models_unload(c);
	return cli_usage("models: unknown action \"%s\"", sub);
}

/* ---- events ------------------------------------------------------------- */

/* An event time as "2026-01-31 12:34:56" (ISO strings or epoch ms). */
static const char *
cli_fmt_time(json_t *at, char *buf, size_t len)
{
	struct tm tm;
	time_t t;
	size_t n;

	if (json_is_number(at)) {
		t = (time_t)(json_number_value(at) / 1000);
		if (localtime_r(&t, &tm) == NULL ||
		    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
			return "-";
		return buf;
	}
	if (!json_is_string(at))
		return "-";
	snprintf(buf, len, "%s", json_string_value(at));
	n = strlen(buf);
	if (n > 19)
		buf[19] = '\0';
	if (n > 10 && buf[10] == 'T')
		buf[10] = ' ';
	return buf;
}

static void
events_table(json_t *events, json_t *names)
{
	char when[64], *detail;
	const char *node;
	struct cli_table t;
	json_t *e;
	size_t i;

	cli_table_init(&t, 6);
	cli_table_row(&t, "TIME", "EVENT", "NODE", "MODEL", "BY", "DETAIL");
	json_array_foreach(events, i, e)
	{
		node = cli_jstr(e, "node_id");
		if (node != NULL &&
		    json_is_string(json_object_get(names, node)))
			node = cli_jstr(names, node);
		detail = cli_fmt_pairs(json_object_get(e, "detail"), " ");
		cli_table_row(&t,
		    cli_fmt_time(json_object_get(e, "at"), when, sizeof(when)),
		    cli_jstr(e, "kind"), node, cli_jstr(e, "model"),
		    cli_jstr(e, "actor"), detail);
		free(detail);
	}
	cli_table_print(&t);
	cli_table_free(&t);
}

static int
cli_events(struct cli *c)
{
	json_t *events, *nodes = NULL, *names, *n;
	char path[64];
	size_t i;
	int ret;

	if (c->npos != 0)
		return cli_usage("events takes no argument (--limit N)");
	snprintf(path, sizeof(path), "/api/events?limit=%ld", c->limit);
	if ((ret = cli_get_array(c, path, "events", &events)) != 0)
		return ret;
	if (c->json) {
		cli_print_json(events);
		json_decref(events);
		return 0;
	}
	/* Node names for the table; ids will do if the list fails. */
	names = cli_check_alloc(json_object());
	if (cli_get_array(c, "/api/nodes", "nodes", &nodes) == 0)
		json_array_foreach(
		    nodes, i, n) if (cli_jstr(n, "id") && cli_jstr(n, "name"))
		    json_object_set(
		        names, cli_jstr(n, "id"), json_object_get(n, "name"));
	events_table(events, names);
	json_decref(nodes);
	json_decref(names);
	json_decref(events);
	return 0;
}

/* ---- options and dispatch ----------------------------------------------- */

static int
cli_number(const char *opt, const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max)
		return cli_usage(
		    "%s wants a number from %ld to %ld", opt, min, max);
	*out = v;
	return 0;
}

/* One "--name value" / "--name=value" option; *i moves past its value. */
static int
cli_option(struct cli *c, int argc, char **argv, int *i)
{
	static const char *with_value[] = {"--url", "--admin-key", "--timeout",
	    "--limit", "--node", "--socket", "-f", NULL};
	char *arg = argv[*i], *eq = strchr(arg, '='), *val = NULL;
	size_t n = eq && arg[1] == '-' ? (size_t)(eq - arg) : strlen(arg);
	int k;

	if (strcmp(arg, "--json") == 0) {
		c->json = 1;
		return 0;
	}
	if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
		fputs(cli_usage_text, stdout);
		return CLI_HELP;
	}
	for (k = 0; with_value[k] != NULL; k++)
		if (strlen(with_value[k]) == n &&
		    strncmp(arg, with_value[k], n) == 0)
			break;
	if (with_value[k] == NULL)
		return cli_usage("unknown option %s", arg);
	if (n < strlen(arg))
		val = eq + 1;
	else if (*i + 1 < argc)
		val = argv[++*i];
	else
		return cli_usage("%s needs a value", with_value[k]);
	switch (k) {
	case 0:
		snprintf(c->url, sizeof(c->url), "%s", val);
		return 0;
	case 1:
		c->key = val;
		return 0;
	case 2:
		return cli_number("--timeout", val, 1, 3600, &c->timeout_s);
	case 3:
		return cli_number("--limit", val, 1, 10000, &c->limit);
	case 4:
		c->node = val;
		return 0;
	case 5:
		c->socket = val;
		return 0;
	default:
		c->conf = val;
		return 0;
	}
}

static int
cli_options(struct cli *c, int argc, char **argv)
{
	const char *env;
	int i, ret, dashdash = 0;
	size_t n;

	env = getenv("LOCALAI_URL");
	snprintf(
	    c->url, sizeof(c->url), "%s", env && *env ? env : CLI_URL_DEFAULT);
	env = getenv("LOCALAI_ADMIN_KEY");
	c->key = env && *env ? env : NULL;
	c->timeout_s = CLI_TIMEOUT_DEFAULT;
	c->limit = 50;
	for (i = 1; i < argc; i++) {
		if (!dashdash && strcmp(argv[i], "--") == 0)
			dashdash = 1;
		else if (!dashdash && argv[i][0] == '-' && argv[i][1] != '\0') {
			if ((ret = cli_option(c, argc, argv, &i)) != 0)
				return ret;
		} else if (c->npos == CLI_MAX_ARGS)
			return cli_usage("too many arguments");
		else
			c->pos[c->npos++] = argv[i];
	}
	if (c->key != NULL && *c->key == '\0')
		c->key = NULL;
	if (strncmp(c->url, "http://", 7) != 0 &&
	    strncmp(c->url, "https://", 8) != 0)
		return cli_usage("--url must start with http:// or https://");
	n = strlen(c->url);
	while (n > 0 && c->url[n - 1] == '/')
		c->url[--n] = '\0';
	return 0;
}

int
cli_is_command(const char *word)
{
	return word != NULL &&
	       (strcmp(word, "nodes") == 0 || strcmp(word, "models") == 0 ||
	           strcmp(word, "events") == 0 || strcmp(word, "status") == 0);
}

/* The HTTP commands, with libcurl set up around them. */
static int
cli_http_command(struct cli *c, const char *cmd)
{
	int ret;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (c->curl = curl_easy_init()) == NULL) {
		cli_err("cannot initialise libcurl");
		return CLI_EXIT_API;
	}
	if (strcmp(cmd, "nodes") == 0)
		ret = cli_nodes(c);
	else if (strcmp(cmd, "models") == 0)
		ret = cli_models(c);
	else
		ret = cli_events(c);
	curl_easy_cleanup(c->curl);
	curl_global_cleanup();
	return ret;
}

int
cli_main(int argc, char **argv)
{
	struct cli c;
	int ret;

	memset(&c, 0, sizeof(c));
	if (argc < 1 || !cli_is_command(argv[0]))
		return cli_usage(NULL);
	if ((ret = cli_options(&c, argc, argv)) != 0)
		return ret == CLI_HELP ? CLI_EXIT_OK : ret;
	if (strcmp(argv[0], "status") == 0)
		ret = cli_status(&c);
	else
		ret = cli_http_command(&c, argv[0]);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		cli_err("cannot write the output: %s", strerror(errno));
		return CLI_EXIT_API;
	}
	return ret;
}
