"""Forward-only schema migrations, applied at start.

Each migration is a list of SQL statements run in one IMMEDIATE transaction together with the
bump of `schema_version`, so a crash mid-migration leaves the previous version intact. Times are
stored as Unix epoch seconds (REAL): cheap to compare in the queue's hot SQL, and free of time-zone
ambiguity; the UI and CLI format them in local time.

Never edit a migration that has shipped: add a new one at the end.
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    # 1: the durable queue, run/step history, cross-references and cursors.
    [
        """CREATE TABLE job (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            dedupe_key TEXT NOT NULL,
            payload TEXT NOT NULL DEFAULT '{}',
            override TEXT,
            state TEXT NOT NULL DEFAULT 'pending',
            priority INTEGER NOT NULL DEFAULT 100,
            attempts INTEGER NOT NULL DEFAULT 0,
            due_at REAL NOT NULL,
            lease_until REAL,
            lease_owner TEXT,
            last_error TEXT,
            error_class TEXT,
            result TEXT,
            run_id INTEGER,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            finished_at REAL
        )""",
        "CREATE UNIQUE INDEX job_active_key ON job(dedupe_key) "
        "WHERE state IN ('pending', 'running', 'retry_wait')",
        "CREATE INDEX job_state_due ON job(state, due_at)",
        "CREATE INDEX job_key ON job(dedupe_key)",
        """CREATE TABLE run (
            id INTEGER PRIMARY KEY,
            flow TEXT NOT NULL,
            trigger TEXT NOT NULL,
            started_at REAL NOT NULL,
            ended_at REAL,
            outcome TEXT NOT NULL DEFAULT 'running',
            counts TEXT NOT NULL DEFAULT '{}',
            message TEXT
        )""",
        "CREATE INDEX run_flow_started ON run(flow, started_at)",
        """CREATE TABLE event (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            level TEXT NOT NULL DEFAULT 'info',
            kind TEXT NOT NULL,
            flow TEXT,
            run_id INTEGER,
            job_id INTEGER,
            subject TEXT,
            message TEXT NOT NULL,
            data TEXT
        )""",
        "CREATE INDEX event_at ON event(at)",
        "CREATE INDEX event_job ON event(job_id)",
        "CREATE INDEX event_run ON event(run_id)",
        """CREATE TABLE xref (
            id INTEGER PRIMARY KEY,
            entity TEXT NOT NULL,
            nop_id TEXT NOT NULL,
            bng_key TEXT,
            state TEXT NOT NULL DEFAULT 'done',
            data TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        "CREATE UNIQUE INDEX xref_nop ON xref(entity, nop_id)",
        "CREATE INDEX xref_bng ON xref(entity, bng_key)",
        """CREATE TABLE cursor (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL
        )""",
    ],
    # 2: alerts (one row per incident), breaker and flow state visible across processes.
    [
        """CREATE TABLE alert (
            id INTEGER PRIMARY KEY,
            incident TEXT NOT NULL,
            kind TEXT NOT NULL,
            severity TEXT NOT NULL DEFAULT 'warning',
            title TEXT NOT NULL,
            message TEXT NOT NULL,
            count INTEGER NOT NULL DEFAULT 1,
            first_at REAL NOT NULL,
            last_at REAL NOT NULL,
            notified_at REAL,
            notified_count INTEGER NOT NULL DEFAULT 0,
            resolved_at REAL,
            data TEXT
        )""",
        "CREATE INDEX alert_incident ON alert(incident, resolved_at)",
        """CREATE TABLE breaker (
            system TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            failures INTEGER NOT NULL DEFAULT 0,
            opened_at REAL,
            next_probe_at REAL,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE flow_state (
            flow TEXT PRIMARY KEY,
            last_run_at REAL,
            last_success_at REAL,
            failing_since REAL,
            last_error TEXT,
            next_run_at REAL,
            updated_at REAL NOT NULL
        )""",
    ],
    # 3: the engine's queue: one active job per (kind, record) instead of per record, so an order's
    # create and its shipment can wait at the same time; an index that serves the claim query's
    # ORDER BY directly.
    [
        "DROP INDEX IF EXISTS job_active_key",
        "CREATE UNIQUE INDEX job_active_kind_key ON job(kind, dedupe_key) "
        "WHERE state IN ('pending', 'running', 'retry_wait')",
        "CREATE INDEX job_claim ON job(state, priority, due_at, id)",
    ],
    # 4: facts about past orders that the anomaly checks learn the shop's usual from
    # (agent.quality.history); numbers are REAL because they only feed statistics.
    [
        """CREATE TABLE order_fact (
            nop_order_id INTEGER PRIMARY KEY,
            customer_key TEXT NOT NULL,
            ip TEXT,
            ship_country TEXT,
            total REAL NOT NULL,
            currency TEXT,
            created_at REAL NOT NULL,
            recorded_at REAL NOT NULL
        )""",
        "CREATE INDEX order_fact_customer ON order_fact(customer_key, created_at)",
        "CREATE INDEX order_fact_ip ON order_fact(ip, created_at)",
        "CREATE INDEX order_fact_created ON order_fact(created_at)",
        """CREATE TABLE line_fact (
            nop_order_id INTEGER NOT NULL,
            line_no INTEGER NOT NULL,
            sku TEXT NOT NULL,
            quantity REAL NOT NULL,
            unit_price REAL NOT NULL,
            PRIMARY KEY (nop_order_id, line_no)
        )""",
        "CREATE INDEX line_fact_sku ON line_fact(sku, nop_order_id)",
    ],
    # 5: the subject tokens of events ("nop-order:1234", and "1234" alone), so a record's trail is
    # an index lookup instead of a scan of a million events (agent.engine.history).
    [
        "CREATE TABLE event_token (event_id INTEGER NOT NULL, token TEXT NOT NULL)",
        "CREATE INDEX event_token_lookup ON event_token(token, event_id)",
    ],
    # 6: catalog, stock and customers (agent.flows.stock, .customers, .duplicates). What the stock
    # flow last found per SKU, so a SKU whose write may have raced a checkout is checked again even
    # after a restart; what the customers flow last sent per store customer, so only changes are
    # sent; and likely duplicate customers waiting for a person's decision, with the evidence.
    [
        """CREATE TABLE stock_sku (
            sku TEXT PRIMARY KEY,
            product_id INTEGER,
            item_no TEXT,
            bng_available TEXT,
            web_demand INTEGER,
            target INTEGER,
            store_quantity INTEGER,
            unsettled INTEGER NOT NULL DEFAULT 0,
            note TEXT,
            checked_at REAL NOT NULL,
            written_at REAL
        )""",
        "CREATE INDEX stock_sku_unsettled ON stock_sku(unsettled)",
        """CREATE TABLE customer_state (
            nop_id INTEGER PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            customer_no TEXT,
            synced TEXT,
            synced_at REAL NOT NULL
        )""",
        """CREATE TABLE review (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            title TEXT NOT NULL,
            record TEXT NOT NULL,
            candidates TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open',
            choice TEXT,
            chosen TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            resolved_at REAL
        )""",
        "CREATE UNIQUE INDEX review_open_subject ON review(kind, subject) WHERE state = 'open'",
        "CREATE INDEX review_state ON review(state, id)",
    ],
    # 7: what the dashboard and the tray read every few seconds — orders synced per day, runs still
    # going — as index ranges instead of scans of every job and run ever recorded; partial indexes,
    # so only the rows they cover pay for them.
    [
        "CREATE INDEX job_orders_synced ON job(finished_at) WHERE kind = 'order.create' AND state = 'succeeded'",
        "CREATE INDEX run_running ON run(flow) WHERE outcome = 'running'",
    ],
]

LATEST = len(MIGRATIONS)
