#!/usr/bin/env python3
"""bench/corpus.py: migration sets for bench/run.sh beside its small generated corpus.

  corpus.py realistic DIR [COUNT]   COUNT migrations (default 340, about 1 MB of up SQL) in
                                    DIR/migrations, window in DIR/compat.toml: tables with
                                    indexes and comments, PL/pgSQL functions in dollar
                                    quotes, triggers, views, ALTERs, seed data, a few large
                                    files and a few no-transaction files, as a product's
                                    real history looks (issue 21 item 8).
  corpus.py bulk DIR KIND MB        one migration of MB megabytes after a table of its
                                    own: KIND `data` (a no-transaction file of INSERTs of
                                    500 rows) or `ddl` (a transactional file of CREATE OR
                                    REPLACE VIEW statements), for the memory rows (issue 22
                                    item 4).

Deterministic (a fixed seed): every run measures the same SQL.
"""

import os
import random
import sys

RNG = random.Random(21)


def write(dir_, version, name, up, down, no_transaction=False):
    head = "-- schemagate:no-transaction\n" if no_transaction else ""
    with open(os.path.join(dir_, f"V{version}__{name}.sql"), "w") as f:
        f.write(head + up)
    with open(os.path.join(dir_, f"V{version}__{name}.down.sql"), "w") as f:
        f.write(head + down)


def table(n):
    up = f"""-- Table {n}: one of the product's entities.
CREATE TABLE r_t{n} (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint,
    name        text        NOT NULL,
    status      text        NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'active', 'deleted')),
    amount      numeric(12, 2) NOT NULL DEFAULT 0,
    payload     jsonb       NOT NULL DEFAULT '{{}}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz
);
CREATE INDEX r_t{n}_account_idx ON r_t{n} (account_id);
CREATE INDEX r_t{n}_status_idx ON r_t{n} (status) WHERE status <> 'deleted';
COMMENT ON TABLE r_t{n} IS 'Entity {n}; amounts in the account''s currency';
COMMENT ON COLUMN r_t{n}.payload IS 'Free-form attributes; keys are documented per entity';
"""
    return up, f"DROP TABLE r_t{n};\n"


def loop_block(k, i):
    return f"""    -- Pass {i}: amounts of the account; a ';' in a comment and 'quotes' in strings.
    FOR r IN SELECT t.id, t.name, t.amount FROM r_t{k} t
             WHERE t.account_id = p_id AND t.status <> 'deleted'
             ORDER BY t.id LIMIT p_limit LOOP
        v_total := v_total + r.amount;
        IF r.amount > 100 * {i + 1} THEN
            RAISE NOTICE 'large amount % for %; check it', r.amount, r.name;
        ELSIF r.amount < 0 THEN
            RAISE WARNING 'negative amount: % (%)', r.amount, $q$it's; odd$q$;
        ELSE
            v_count := v_count + 1;
        END IF;
    END LOOP;
"""


def function(n, k, passes):
    body = "".join(loop_block(k, i) for i in range(passes))
    up = f"""CREATE OR REPLACE FUNCTION r_f{n}(p_id bigint, p_limit int DEFAULT 10)
RETURNS TABLE (total numeric, counted int)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    v_total numeric := 0;
    v_count int := 0;
    r record;
BEGIN
{body}    total := v_total;
    counted := v_count;
    RETURN NEXT;
END;
$fn$;
COMMENT ON FUNCTION r_f{n}(bigint, int) IS 'Totals of an account, pass by pass';
"""
    return up, f"DROP FUNCTION r_f{n}(bigint, int);\n"


def trigger(n, k):
    up = f"""CREATE OR REPLACE FUNCTION r_trg{n}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status THEN
        NEW.payload := NEW.payload || jsonb_build_object('previous_status', OLD.status);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER r_trg{n} BEFORE INSERT OR UPDATE ON r_t{k}
    FOR EACH ROW EXECUTE FUNCTION r_trg{n}();
"""
    return up, f"DROP TRIGGER r_trg{n} ON r_t{k};\nDROP FUNCTION r_trg{n}();\n"


def view(n, a, b):
    up = f"""CREATE OR REPLACE VIEW r_v{n} AS
SELECT a.id,
       a.name,
       a.status,
       count(b.id) AS entries,
       coalesce(sum(b.amount), 0) AS total,
       max(b.created_at) AS last_entry_at,
       CASE WHEN count(b.id) = 0 THEN 'empty'
            WHEN sum(b.amount) > 10000 THEN 'large'
            ELSE 'regular' END AS size_class,
       a.payload ->> 'region' AS region
FROM r_t{a} a
LEFT JOIN r_t{b} b ON b.account_id = a.id AND b.status <> 'deleted'
WHERE a.status <> 'deleted'
GROUP BY a.id, a.name, a.status, a.payload;
COMMENT ON VIEW r_v{n} IS 'Entries per account; read by the reports';
"""
    return up, f"DROP VIEW r_v{n};\n"


def alter(n, k):
    up = f"""ALTER TABLE r_t{k} ADD COLUMN c{n} text;
ALTER TABLE r_t{k} ADD CONSTRAINT r_t{k}_c{n}_len CHECK (length(c{n}) < 200) NOT VALID;
ALTER TABLE r_t{k} VALIDATE CONSTRAINT r_t{k}_c{n}_len;
"""
    return up, f"ALTER TABLE r_t{k} DROP COLUMN c{n};\n"


def rows(n, k, count):
    values = ",\n".join(
        f"    ({RNG.randint(1, 500)}, 'seed{n}-{i}', '{RNG.choice(['new', 'active'])}', "
        f"{RNG.randint(-50, 5000)}.{RNG.randint(0, 99):02d}, "
        f"'{{\"region\": \"r{RNG.randint(1, 9)}\", \"note\": \"it''s #{i}\"}}')"
        for i in range(count)
    )
    up = f"INSERT INTO r_t{k} (account_id, name, status, amount, payload) VALUES\n{values};\n"
    return up, f"DELETE FROM r_t{k} WHERE name LIKE 'seed{n}-%';\n"


def realistic(dir_, count):
    migrations = os.path.join(dir_, "migrations")
    os.makedirs(migrations, exist_ok=True)
    tables = []
    kinds = ["table"] * 8 + ["function"] * 5 + ["trigger"] * 2 + ["view"] * 2 + ["alter"] * 2 + ["rows"]
    for n in range(1, count + 1):
        kind = "table" if len(tables) < 3 else RNG.choice(kinds)
        k = RNG.choice(tables) if tables else 0
        no_transaction = False
        if n % 60 == 0:
            # Large files now and then: a long function, or a seed of many rows.
            kind = "big-function" if n % 120 == 0 else "big-rows"
        elif n % 45 == 0:
            kind = "concurrent-index"
        if kind == "table":
            up, down = table(n)
            tables.append(n)
        elif kind == "function":
            up, down = function(n, k, RNG.randint(4, 13))
        elif kind == "big-function":
            up, down = function(n, k, 120)
        elif kind == "trigger":
            up, down = trigger(n, k)
        elif kind == "view":
            up, down = view(n, k, RNG.choice(tables))
        elif kind == "alter":
            up, down = alter(n, k)
        elif kind == "rows":
            up, down = rows(n, k, 80)
        elif kind == "big-rows":
            up, down = rows(n, k, 600)
        else:
            no_transaction = True
            up = f"CREATE INDEX CONCURRENTLY IF NOT EXISTS r_t{k}_created_{n} ON r_t{k} (created_at);\n"
            down = f"DROP INDEX CONCURRENTLY IF EXISTS r_t{k}_created_{n};\n"
        write(migrations, n, f"{kind.replace('-', '_')}_{n}", up, down, no_transaction)
    with open(os.path.join(dir_, "compat.toml"), "w") as f:
        f.write(f'[app]\nversion = "1.0.0"\n\n[schema]\nmin = {count}\nmax = {count}\n')


def bulk(dir_, kind, megabytes):
    migrations = os.path.join(dir_, "migrations")
    os.makedirs(migrations, exist_ok=True)
    up, down = table(1)
    write(migrations, 1, "table", up, down)
    target = megabytes * 1024 * 1024
    parts, size, n = [], 0, 0
    while size < target:
        n += 1
        if kind == "data":
            part, _ = rows(n, 1, 500)
        else:
            part = view(n, 1, 1)[0].replace(f"r_v{n}", "r_v_bulk", 1).split("COMMENT ON")[0]
        parts.append(part)
        size += len(part)
    name = f"{kind}_{megabytes}mb"
    # A data load runs outside a transaction, a statement at a time; DDL in one.
    down = "DROP VIEW IF EXISTS r_v_bulk;\nDELETE FROM r_t1;\n"
    write(migrations, 2, name, "".join(parts), down, no_transaction=kind == "data")
    with open(os.path.join(dir_, "compat.toml"), "w") as f:
        f.write('[app]\nversion = "1.0.0"\n\n[schema]\nmin = 2\nmax = 2\n')


def main(argv):
    if len(argv) >= 3 and argv[1] == "realistic":
        realistic(argv[2], int(argv[3]) if len(argv) > 3 else 340)
    elif len(argv) == 5 and argv[1] == "bulk" and argv[3] in ("data", "ddl"):
        bulk(argv[2], argv[3], int(argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
