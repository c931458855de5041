-- What the router needs beyond the base schema (001): the worker's
-- backend token (handed to api processes for gRPC and file staging),
-- the operator's drain intent kept apart from liveness, and the node's
-- heartbeat interval.  IF NOT EXISTS keeps this safe on any 001.
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS backend_token text NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS draining boolean NOT NULL DEFAULT false;
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS heartbeat_interval_ms integer NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX IF NOT EXISTS replicas_model_node ON replicas (model, node_id);
