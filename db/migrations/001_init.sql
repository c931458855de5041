-- 001_init: the cluster's durable state (DESIGN.md §4).
--
-- Applied by db_migrate() (db/db.c) inside one transaction, under a session
-- advisory lock, and recorded in schema_version (which db_migrate creates
-- itself, so that it can read it before any migration has run).  A
-- migration file must not contain BEGIN/COMMIT.
--
-- Compared with LocalAI's GORM tables (reference/localai-distributed.md
-- §2): statuses and states are CHECKed enumerations, every foreign key is
-- declared, a node has at most one replica per (model, replica_index), and
-- at most one cold load per model can be in progress at any time.

-- Keeps updated_at honest whatever statement changes a row.
CREATE FUNCTION localai_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END
$$;

-- One row per worker (or agent) node.  A node is 'pending' until an admin
-- approves it (or auto-approval is on); 'approved' records that approval
-- separately, so a node that went offline and re-registers returns to
-- 'healthy' only if it had been approved (LocalAI loses this).
-- 'suspect' takes a node out of placement without declaring it offline.
CREATE TABLE nodes (
	id		text PRIMARY KEY
			CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
	name		text NOT NULL UNIQUE
			CHECK (length(name) BETWEEN 1 AND 255),
	node_type	text NOT NULL DEFAULT 'backend'
			CHECK (node_type IN ('backend', 'agent')),
	address		text NOT NULL DEFAULT ''
			CHECK (length(address) <= 512),
	http_address	text NOT NULL DEFAULT ''
			CHECK (length(http_address) <= 512),
	status		text NOT NULL DEFAULT 'pending'
			CHECK (status IN ('pending', 'healthy', 'suspect',
			    'draining', 'offline')),
	labels		jsonb NOT NULL DEFAULT '{}'
			CHECK (jsonb_typeof(labels) = 'object'),
	-- Bytes.  available_* are the node's own report; reserved_* are
	-- what the routers have promised to loads in progress.
	total_ram	bigint NOT NULL DEFAULT 0 CHECK (total_ram >= 0),
	available_ram	bigint NOT NULL DEFAULT 0 CHECK (available_ram >= 0),
	reserved_ram	bigint NOT NULL DEFAULT 0 CHECK (reserved_ram >= 0),
	total_vram	bigint NOT NULL DEFAULT 0 CHECK (total_vram >= 0),
	available_vram	bigint NOT NULL DEFAULT 0 CHECK (available_vram >= 0),
	reserved_vram	bigint NOT NULL DEFAULT 0 CHECK (reserved_vram >= 0),
	-- Requests in flight per replica on this node; 0 = no node-wide cap.
	max_concurrency	integer NOT NULL DEFAULT 0
			CHECK (max_concurrency >= 0),
	-- Hex SHA-256 of the node's own token; NULL until one is issued.
	token_hash	text CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	approved	boolean NOT NULL DEFAULT false,
	-- The operator's drain intent, kept apart from liveness: a draining
	-- node that goes offline and comes back is still draining.
	draining	boolean NOT NULL DEFAULT false,
	-- The secret frontends present to this node's backends (gRPC
	-- Bearer) and file endpoint; the worker chose it at registration.
	backend_token	text NOT NULL DEFAULT ''
			CHECK (length(backend_token) <= 128),
	-- How often the node sends heartbeats (ms); 0 = the default.
	heartbeat_interval_ms integer NOT NULL DEFAULT 0
			CHECK (heartbeat_interval_ms >= 0),
	gpu_vendor	text NOT NULL DEFAULT ''
			CHECK (length(gpu_vendor) <= 64),
	last_heartbeat	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	-- A pending node has not been approved, by definition.
	CHECK (status <> 'pending' OR NOT approved)
);

CREATE TRIGGER nodes_touch BEFORE UPDATE ON nodes
	FOR EACH ROW EXECUTE FUNCTION localai_touch_updated_at();

-- Backends installed on each node (what `nodes.<id>.backend.list` reports).
CREATE TABLE node_backends (
	node_id		text NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
	name		text NOT NULL
			CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
	version		text NOT NULL DEFAULT ''
			CHECK (length(version) <= 128),
	sha256		text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	installed_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (node_id, name)
);

-- A model loaded (or loading) on a node: one backend process serving it.
-- A big node may hold several replicas of one model, told apart by
-- replica_index.
CREATE TABLE replicas (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	model		text NOT NULL CHECK (length(model) BETWEEN 1 AND 255),
	node_id		text NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
	replica_index	integer NOT NULL DEFAULT 0
			CHECK (replica_index >= 0),
	-- The backend's gRPC address (host:port) as reached from frontends.
	address		text NOT NULL DEFAULT ''
			CHECK (length(address) <= 512),
	state		text NOT NULL DEFAULT 'loading'
			CHECK (state IN ('loading', 'ready', 'failed',
			    'stopping')),
	reserved_ram	bigint NOT NULL DEFAULT 0 CHECK (reserved_ram >= 0),
	reserved_vram	bigint NOT NULL DEFAULT 0 CHECK (reserved_vram >= 0),
	last_used	timestamptz,
	-- Which revision of the model's configuration the replica runs,
	-- so a changed configuration can be rolled out replica by replica.
	config_revision	text NOT NULL DEFAULT '',
	error		text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (model, node_id, replica_index)
);

-- The foreign key's side: deleting a node and listing a node's models.
CREATE INDEX replicas_node_idx ON replicas (node_id);

CREATE TRIGGER replicas_touch BEFORE UPDATE ON replicas
	FOR EACH ROW EXECUTE FUNCTION localai_touch_updated_at();

-- Cold loads, durable so that every frontend can see one in progress and
-- report its progress.  pending → staging (files to the node) → loading
-- (LoadModel) → done | failed.  node_id becomes NULL if the node is
-- deleted, so the history stays.
CREATE TABLE load_jobs (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	model		text NOT NULL CHECK (length(model) BETWEEN 1 AND 255),
	node_id		text REFERENCES nodes (id) ON DELETE SET NULL,
	-- The frontend instance running the job.
	owner		text NOT NULL DEFAULT '',
	state		text NOT NULL DEFAULT 'pending'
			CHECK (state IN ('pending', 'staging', 'loading',
			    'done', 'failed')),
	progress	real NOT NULL DEFAULT 0
			CHECK (progress >= 0 AND progress <= 1),
	bytes_done	bigint NOT NULL DEFAULT 0 CHECK (bytes_done >= 0),
	bytes_total	bigint CHECK (bytes_total >= 0),
	error		text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	started_at	timestamptz,
	finished_at	timestamptz,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	-- A finished job says when; a job in progress has not finished.
	CHECK ((state IN ('done', 'failed')) = (finished_at IS NOT NULL))
);

-- One cold load per model at a time across all frontends.  A job whose
-- owner died must be failed by the router (stale updated_at) before
-- another load of that model can start.
CREATE UNIQUE INDEX load_jobs_one_active ON load_jobs (model)
	WHERE state IN ('pending', 'staging', 'loading');
CREATE INDEX load_jobs_node_idx ON load_jobs (node_id);

CREATE TRIGGER load_jobs_touch BEFORE UPDATE ON load_jobs
	FOR EACH ROW EXECUTE FUNCTION localai_touch_updated_at();

-- The audit trail: who did what to which node or model, and when.  No
-- foreign key: events outlive the nodes they mention.
CREATE TABLE events (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at		timestamptz NOT NULL DEFAULT clock_timestamp(),
	kind		text NOT NULL
			CHECK (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),
	node_id		text,
	model		text,
	-- "admin", "node:<id>", "router:<instance>", "system" …
	actor		text,
	detail		jsonb NOT NULL DEFAULT '{}'
			CHECK (jsonb_typeof(detail) = 'object')
);

CREATE INDEX events_at_idx ON events (at DESC);
CREATE INDEX events_node_idx ON events (node_id, at DESC)
	WHERE node_id IS NOT NULL;
