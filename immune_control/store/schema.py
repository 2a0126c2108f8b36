"""The DuckDB schema as numbered migrations; each runs once, in order, in a transaction."""

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE agents (
        id VARCHAR PRIMARY KEY, name VARCHAR, model VARCHAR, provider VARCHAR,
        mcp_servers JSON, tools JSON, labels JSON, sidecar_id VARCHAR,
        reported_status VARCHAR, first_seen DOUBLE, last_seen DOUBLE, samples BIGINT
    );
    CREATE TABLE sidecars (
        id VARCHAR PRIMARY KEY, version VARCHAR, connect_time DOUBLE,
        last_message_time DOUBLE, disconnect_time DOUBLE
    );
    CREATE TABLE infections (
        id VARCHAR PRIMARY KEY, agent_id VARCHAR, sidecar_id VARCHAR, incident_id VARCHAR,
        time DOUBLE, severity DOUBLE, anomalies JSON
    );
    CREATE TABLE incidents (
        id VARCHAR PRIMARY KEY, agent_id VARCHAR, state VARCHAR, severity DOUBLE,
        anomalies JSON, hypotheses JSON, evidence JSON, hypothesis_index INTEGER,
        trigger VARCHAR, detect_time DOUBLE, update_time DOUBLE, approval_expire_time DOUBLE,
        fleet BOOLEAN, affected_agent_ids JSON, quarantine_waived BOOLEAN,
        waived_agent_ids JSON
    );
    CREATE INDEX incidents_agent ON incidents (agent_id);
    CREATE TABLE actions (
        id VARCHAR PRIMARY KEY, incident_id VARCHAR, agent_id VARCHAR, action VARCHAR,
        diagnosis VARCHAR, trigger VARCHAR, attempt INTEGER, start_time DOUBLE, actor VARCHAR,
        outcome VARCHAR, applied_time DOUBLE, finish_time DOUBLE, detail VARCHAR,
        dry_run BOOLEAN, command_id VARCHAR
    );
    CREATE INDEX actions_incident ON actions (incident_id);
    CREATE TABLE events (
        sequence UBIGINT PRIMARY KEY, time DOUBLE, kind VARCHAR, incident_id VARCHAR,
        agent_id VARCHAR, actor VARCHAR, reason VARCHAR, from_state VARCHAR,
        to_state VARCHAR, message VARCHAR
    );
    CREATE INDEX events_incident ON events (incident_id);
    CREATE TABLE policies (
        diagnosis VARCHAR PRIMARY KEY, actions JSON, update_actor VARCHAR, update_time DOUBLE
    );
    CREATE TABLE feedback (
        incident_id VARCHAR, false_positive BOOLEAN, true_cause VARCHAR,
        wrong_diagnosis VARCHAR, anomaly_type VARCHAR, actor VARCHAR, reason VARCHAR,
        time DOUBLE
    );
    CREATE TABLE audit (
        sequence UBIGINT PRIMARY KEY, time DOUBLE, actor VARCHAR, role VARCHAR,
        method VARCHAR, target VARCHAR, reason VARCHAR, result VARCHAR
    );
    CREATE TABLE commands (
        id VARCHAR PRIMARY KEY, sidecar_id VARCHAR, agent_id VARCHAR, body JSON,
        create_time DOUBLE, ack_time DOUBLE
    );
    CREATE TABLE samples (
        agent_id VARCHAR, time DOUBLE, interval_seconds DOUBLE, operations DOUBLE,
        vitals JSON, prompt_hash VARCHAR
    );
    CREATE VIEW immune_memory AS
        SELECT agent_id, diagnosis, action, count(*) AS attempts,
               count(*) FILTER (WHERE outcome = 'succeeded') AS successes,
               max(coalesce(finish_time, start_time)) AS last_attempt_time
        FROM actions
        WHERE outcome IN ('succeeded', 'failed', 'reinfected', 'timed_out')
        GROUP BY ALL;
    """,
    # 2: acks are appended, not updated in place, so they are staged like every other write.
    """
    CREATE TABLE command_acks (id VARCHAR, time DOUBLE);
    INSERT INTO command_acks SELECT id, ack_time FROM commands WHERE ack_time IS NOT NULL;
    """,
)
