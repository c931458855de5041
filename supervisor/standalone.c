/*
 * Standalone mode: one machine, no setup.  The supervisor runs the
 * frontend's processes, a local worker agent and, unless the
 * configuration names its own, a private PostgreSQL and nats-server
 * (svc.c), all with the same code paths as a cluster.
 *
 * What it generates on first start lives in the state directory and is
 * reused later:
 *	standalone.secrets (0600)	registration token, admin key, NATS
 *					password and port
 *	worker.env (0600, rewritten at	what another worker on this machine
 *	each start)			needs to join: LOCALAI_REGISTER_TO,
 *					LOCALAI_REGISTRATION_TOKEN,
 *					LOCALAI_NATS_URL
 *	pg/, nats/			the private servers' files
 *	worker/				the local worker's own state and
 *					model cache
 * The secrets are printed once, when they are created.  Configured values
 * win over generated ones: a configured admin key or registration token
 * is used as it is, and database_url / nats_url replace the private
 * servers.  Nodes that present the registration token are approved at
 * once: the token is generated and private to this machine.
 */
#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "supervisor/sup.h"

#define SA_SECRETS "standalone.secrets"
#define SA_WORKER_ENV "worker.env"
#define SA_KEY_BYTES 24 /* 48 hex digits */

static struct {
	int active;
	char state_dir[256];
	char registration_token[128];
	char admin_key[128]; /* "" when configured */
	char nats_password[128];
	uint16_t nats_port;
	char database_url[512]; /* private server, or "" */
	char nats_url[512]; /* private server, or "" */
	char frontend_url[300]; /* http://127.0.0.1:8080 */
} sa;

/* ---- the secrets file ------------------------------------------------------ */

static int
sa_random_hex(char *out, size_t len)
{
	uint8_t b[SA_KEY_BYTES];
	size_t i;

	if (len < 2 * sizeof(b) + 1 ||
	    getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -1;
	for (i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

static void
sa_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", sa.state_dir, name);
}

/* Read key=value lines; a missing file leaves everything empty. */
static int
sa_secrets_read(void)
{
	char path[PATH_MAX], line[600], *eq, *v;
	FILE *fp;

	sa_path(path, sizeof(path), SA_SECRETS);
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		log_warn("%s", path);
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || (eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		v = eq + 1;
		if (strcmp(line, "registration_token") == 0)
			snprintf(sa.registration_token,
			    sizeof(sa.registration_token), "%s", v);
		else if (strcmp(line, "admin_key") == 0)
			snprintf(sa.admin_key, sizeof(sa.admin_key), "%s", v);
		else if (strcmp(line, "nats_password") == 0)
			snprintf(sa.nats_password, sizeof(sa.nats_password),
			    "%s", v);
		else if (strcmp(line, "nats_port") == 0)
			sa.nats_port = (uint16_t)strtoul(v, NULL, 10);
	}
	fclose(fp);
	return 0;
}

/*
 * Write a whole file of mode 0600 atomically (temporary file, fsync,
 * rename): an interrupted write never leaves half a secret behind.
 */
static int
sa_write_private(const char *name, const char *text)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	size_t len = strlen(text);
	int fd;

	sa_path(path, sizeof(path), name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	    -1) {
		log_warn("%s", tmp);
		return -1;
	}
	if (fchmod(fd, 0600) == -1 || write(fd, text, len) != (ssize_t)len ||
	    fsync(fd) == -1) {
		log_warn("%s", tmp);
		close(fd);
		(void)unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		log_warn("rename %s", tmp);
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

static int
sa_secrets_write(void)
{
	char text[1024];

	snprintf(text, sizeof(text),
	    "# localai standalone: generated on first start and reused; keep "
	    "it private.\n"
	    "# admin_key: the Nodes page and /api/* (Authorization: Bearer);\n"
	    "# registration_token: what a worker presents to register.\n"
	    "registration_token=%s\nadmin_key=%s\nnats_password=%s\n"
	    "nats_port=%u\n",
	    sa.registration_token, sa.admin_key, sa.nats_password,
	    sa.nats_port);
	return sa_write_private(SA_SECRETS, text);
}

/* Fill what is missing; *created is set when something was generated. */
static int
sa_secrets_generate(int *created)
{
	*created = 0;
	if (sa.registration_token[0] == '\0') {
		if (sa_random_hex(sa.registration_token,
		        sizeof(sa.registration_token)) == -1)
			return -1;
		*created = 1;
	}
	if (sa.admin_key[0] == '\0') {
		if (sa_random_hex(sa.admin_key, sizeof(sa.admin_key)) == -1)
			return -1;
		*created = 1;
	}
	if (sa.nats_password[0] == '\0') {
		if (sa_random_hex(sa.nats_password, sizeof(sa.nats_password)) ==
		    -1)
			return -1;
		*created = 1;
	}
	return 0;
}

/* ---- addresses --------------------------------------------------------------- */

/*
 * The URL at which this machine's workers reach the frontend: the
 * listening socket's address, loopback when it listens on every address.
 */
static int
sa_frontend_url(int listen_fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	int wild;

	if (getsockname(listen_fd, (struct sockaddr *)&ss, &len) == -1) {
		log_warn("getsockname");
		return -1;
	}
	if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
	        sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return -1;
	wild = (ss.ss_family == AF_INET6 &&
	           IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr)) ||
	       (ss.ss_family == AF_INET && s4->sin_addr.s_addr == INADDR_ANY);
	if (wild)
		snprintf(sa.frontend_url, sizeof(sa.frontend_url),
		    "http://127.0.0.1:%s", port);
	else if (ss.ss_family == AF_INET6 &&
	         !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		snprintf(sa.frontend_url, sizeof(sa.frontend_url),
		    "http://[%s]:%s", host, port);
	else
		snprintf(sa.frontend_url, sizeof(sa.frontend_url),
		    "http://%s:%s",
		    strncmp(host, "::ffff:", 7) == 0 ? host + 7 : host, port);
	return 0;
}

/* "host:port" -> "127.0.0.1:port" for a worker on this machine. */
static void
sa_loopback_addr(char *dst, size_t len, const char *addr)
{
	char host[128];
	uint16_t port;

	if (dst[0] != '\0' ||
	    conf_addr_split(addr, host, sizeof(host), &port) == -1)
		return;
	snprintf(dst, len, "127.0.0.1:%u", port);
}

/* mkdir -p with mode for the directories it creates. */
static int
sa_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST) {
			log_warn("mkdir %s", buf);
			return -1;
		}
		if ((*p = c) == '\0')
			return 0;
	}
}

/* ---- setup ------------------------------------------------------------------- */

static int
sa_worker_env(void)
{
	char text[2048];

	snprintf(text, sizeof(text),
	    "# localai standalone: what another worker on this machine needs "
	    "to join,\n"
	    "# rewritten at each start.  Use: set -a; . %s/%s; set +a; "
	    "localai worker\n"
	    "LOCALAI_REGISTER_TO=%s\nLOCALAI_REGISTRATION_TOKEN=%s\n"
	    "LOCALAI_NATS_URL=%s\n",
	    sa.state_dir, SA_WORKER_ENV, sa.frontend_url, sa.registration_token,
	    sa.nats_url);
	return sa_write_private(SA_WORKER_ENV, text);
}

static int
sa_private_servers(struct conf *cf, int *save)
{
	struct conf def;
	uint16_t port;

	if (cf->frontend.database_url[0] == '\0') {
		if (sup_svc_pg_setup(sa.state_dir, sa.database_url,
		        sizeof(sa.database_url)) == -1)
			return -1;
	} else
		log_info("standalone: using the configured database_url");
	/* nats_url has a default; only a value of one's own counts. */
	conf_defaults(&def);
	if (strcmp(cf->nats_url, def.nats_url) != 0) {
		log_info("standalone: using the configured nats_url");
		snprintf(sa.nats_url, sizeof(sa.nats_url), "%s", cf->nats_url);
		return 0;
	}
	if ((port = sup_svc_free_port(sa.nats_port)) == 0) {
		log_warn("standalone: no free port for nats-server");
		return -1;
	}
	if (port != sa.nats_port) {
		sa.nats_port = port;
		*save = 1;
	}
	return sup_svc_nats_setup(sa.state_dir, sa.nats_password, port,
	    sa.nats_url, sizeof(sa.nats_url));
}

static void
sa_print(const struct conf *cf, int created)
{
	if (created) {
		log_info(
		    "standalone: first start: secrets generated and stored "
		    "in %s/%s (mode 0600); shown only this once:",
		    sa.state_dir, SA_SECRETS);
		if (!cf->frontend.have_admin_key)
			log_info(
			    "standalone:   admin key (Nodes page, /api/*): "
			    "%s",
			    sa.admin_key);
		if (cf->frontend.registration_token[0] == '\0')
			log_info("standalone:   registration token (workers): "
			         "%s",
			    sa.registration_token);
	} else
		log_info("standalone: admin key and registration token in "
		         "%s/%s",
		    sa.state_dir, SA_SECRETS);
	log_info("standalone: frontend at %s, Nodes page %s/app/nodes; other "
	         "workers on this machine join with %s/%s",
	    sa.frontend_url, sa.frontend_url, sa.state_dir, SA_WORKER_ENV);
}

int
sup_sa_setup(struct conf *cf, int listen_fd)
{
	char dir[PATH_MAX];
	int created, save;

	memset(&sa, 0, sizeof(sa));
	if (sa_mkdirs(cf->state_dir, 0755) == -1)
		return -1;
	/* Absolute: the servers run in directories of their own. */
	if (realpath(cf->state_dir, dir) == NULL ||
	    strlen(dir) >= sizeof(sa.state_dir)) {
		log_warn("standalone: state_dir %s", cf->state_dir);
		return -1;
	}
	snprintf(sa.state_dir, sizeof(sa.state_dir), "%s", dir);
	snprintf(dir, sizeof(dir), "%s/worker", sa.state_dir);
	if (sa_mkdirs(dir, 0700) == -1 || sa_secrets_read() == -1 ||
	    sa_secrets_generate(&created) == -1 ||
	    sa_frontend_url(listen_fd) == -1)
		return -1;
	save = created;
	if (cf->frontend.registration_token[0] != '\0')
		snprintf(sa.registration_token, sizeof(sa.registration_token),
		    "%s", cf->frontend.registration_token);
	if (sa_private_servers(cf, &save) == -1)
		return -1;
	if (save && sa_secrets_write() == -1)
		return -1;
	if (sa_worker_env() == -1)
		return -1;
	sa.active = 1;
	sa_print(cf, created);
	sup_sa_apply(cf);
	return 0;
}

void
sup_sa_apply(struct conf *cf)
{
	struct conf_worker *w = &cf->worker;
	size_t n;

	if (!sa.active)
		return;
	if (cf->frontend.registration_token[0] == '\0')
		snprintf(cf->frontend.registration_token,
		    sizeof(cf->frontend.registration_token), "%s",
		    sa.registration_token);
	if (!cf->frontend.have_admin_key) {
		conf_hash_key(
		    sa.admin_key, strlen(sa.admin_key), cf->frontend.admin_key);
		cf->frontend.have_admin_key = 1;
	}
	cf->frontend.auto_approve_nodes = 1;
	if (sa.database_url[0] != '\0')
		snprintf(cf->frontend.database_url,
		    sizeof(cf->frontend.database_url), "%s", sa.database_url);
	snprintf(cf->nats_url, sizeof(cf->nats_url), "%s", sa.nats_url);
	if (w->register_to[0] == '\0')
		snprintf(w->register_to, sizeof(w->register_to), "%s",
		    sa.frontend_url);
	if (w->gallery_url[0] == '\0') {
		n = strlen(w->register_to);
		while (n > 0 && w->register_to[n - 1] == '/')
			n--;
		snprintf(w->gallery_url, sizeof(w->gallery_url),
		    "%.*s/api/gallery", (int)n, w->register_to);
	}
	sa_loopback_addr(
	    w->advertise_addr, sizeof(w->advertise_addr), w->serve_addr);
	sa_loopback_addr(w->advertise_http_addr, sizeof(w->advertise_http_addr),
	    w->http_addr);
}

/*
 * The local worker keeps its identity and its model cache apart from the
 * frontend's model files: <state_dir>/worker.
 */
void
sup_sa_worker_conf(struct conf *cf)
{
	char dir[sizeof(cf->state_dir)];

	if (!sa.active)
		return;
	snprintf(dir, sizeof(dir), "%.200s/worker", sa.state_dir);
	snprintf(cf->state_dir, sizeof(cf->state_dir), "%s", dir);
	snprintf(
	    cf->models_path, sizeof(cf->models_path), "%.200s/models", dir);
}

/* ---- the gallery --------------------------------------------------------------- */

static int
sa_has_index(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/index.json", dir);
	return access(path, R_OK) == 0;
}

void
sup_gallery_default(struct conf *cf)
{
	static const char *rel[] = {"../share/localai/gallery", "../gallery"};
	char def[PATH_MAX], exe[PATH_MAX], cand[PATH_MAX], *slash;
	ssize_t n;
	size_t i;

	snprintf(def, sizeof(def), "%s/gallery", cf->state_dir);
	if (strcmp(def, cf->frontend.gallery_dir) != 0 ||
	    sa_has_index(cf->frontend.gallery_dir))
		return;
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return;
	*slash = '\0';
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(cand, sizeof(cand), "%s/%s", exe, rel[i]);
		if (!sa_has_index(cand) || realpath(cand, def) == NULL)
			continue;
		if (strlen(def) >= sizeof(cf->frontend.gallery_dir))
			continue;
		log_debug("gallery: %s/gallery has no index.json; serving %s",
		    cf->state_dir, def);
		snprintf(cf->frontend.gallery_dir,
		    sizeof(cf->frontend.gallery_dir), "%s", def);
		return;
	}
}
