-- One login role per part with a database (auth, tickets, orders,
-- payments, events), owning only the schema named after it: a part's DATABASE_URL
-- names its role, so a compromised part reads and writes its own data and
-- nothing else. No role may create schemas (PUBLIC never had CREATE on the
-- database) or use another part's schema (no USAGE on it).
--
-- A psql script, run as the database's owner in the database the parts use,
-- with the roles' passwords in the environment:
--   AUTH_DB_PASSWORD, TICKETS_DB_PASSWORD, ORDERS_DB_PASSWORD, PAYMENTS_DB_PASSWORD,
--   EVENTS_DB_PASSWORD
-- The PostgreSQL image runs it once, when it creates the database
-- (/docker-entrypoint-initdb.d, in compose.yaml and k8s/postgres.yaml). It
-- can run again at any time: it creates what is missing, sets the
-- passwords, and hands over schemas and tables created before it by
-- another role (a deployment from before the roles). deploy/README.md says
-- how; cmd/ticketing's TestServeDeployPermissions runs it.

\set ON_ERROR_STOP on

\getenv auth_password AUTH_DB_PASSWORD
\getenv tickets_password TICKETS_DB_PASSWORD
\getenv orders_password ORDERS_DB_PASSWORD
\getenv payments_password PAYMENTS_DB_PASSWORD
\getenv events_password EVENTS_DB_PASSWORD
\if :{?auth_password}
\else
\set auth_password ''
\endif
\if :{?tickets_password}
\else
\set tickets_password ''
\endif
\if :{?orders_password}
\else
\set orders_password ''
\endif
\if :{?payments_password}
\else
\set payments_password ''
\endif
\if :{?events_password}
\else
\set events_password ''
\endif
SELECT :'auth_password' <> '' AND :'tickets_password' <> '' AND :'orders_password' <> '' AND :'payments_password' <> '' AND :'events_password' <> '' AS all_set \gset
\if :all_set
\else
DO $$ BEGIN RAISE 'roles.sql: set AUTH_DB_PASSWORD, TICKETS_DB_PASSWORD, ORDERS_DB_PASSWORD, PAYMENTS_DB_PASSWORD and EVENTS_DB_PASSWORD'; END $$;
\endif

BEGIN;

SELECT format('CREATE ROLE %I', r)
FROM unnest(ARRAY['auth', 'tickets', 'orders', 'payments', 'events']) AS r
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) \gexec

-- LOGIN and nothing else: no superuser, no CREATEDB, no CREATEROLE.
ALTER ROLE auth WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'auth_password';
ALTER ROLE tickets WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'tickets_password';
ALTER ROLE orders WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'orders_password';
ALTER ROLE payments WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'payments_password';
ALTER ROLE events WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'events_password';

CREATE SCHEMA IF NOT EXISTS auth AUTHORIZATION auth;
CREATE SCHEMA IF NOT EXISTS tickets AUTHORIZATION tickets;
CREATE SCHEMA IF NOT EXISTS orders AUTHORIZATION orders;
CREATE SCHEMA IF NOT EXISTS payments AUTHORIZATION payments;
CREATE SCHEMA IF NOT EXISTS events AUTHORIZATION events;

-- A deployment from before the roles: the parts created their schemas and
-- tables as the database's owner. Hand them over (a table's sequences
-- follow it).
ALTER SCHEMA auth OWNER TO auth;
ALTER SCHEMA tickets OWNER TO tickets;
ALTER SCHEMA orders OWNER TO orders;
ALTER SCHEMA payments OWNER TO payments;
ALTER SCHEMA events OWNER TO events;
SELECT format('ALTER TABLE %I.%I OWNER TO %I', schemaname, tablename, schemaname)
FROM pg_tables
WHERE schemaname IN ('auth', 'tickets', 'orders', 'payments', 'events') AND tableowner <> schemaname \gexec

-- Nothing of a part's goes to public; PostgreSQL 15 and later already
-- refuse CREATE there.
REVOKE ALL ON SCHEMA public FROM PUBLIC;

COMMIT;
