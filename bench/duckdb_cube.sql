-- What `poslens analyze` computes, in DuckDB, for the side-by-side benchmark (bench/perf.sh):
-- the rows poslens would reject left out, response codes normalised (`5` -> `05`), classified
-- by a join with poslens' own catalog (`poslens codes --format csv`), the hourly cube in the
-- report time zone, and the four summaries written as CSV. @INPUT@, @CODES@, @OUT@ and @TZ@
-- are filled in by the script.
SET TimeZone = '@TZ@';
CREATE TEMP TABLE codes AS SELECT code, class FROM read_csv('@CODES@', all_varchar = true);
CREATE TEMP TABLE cube AS
SELECT terminal_id, merchant_id, merchant_name, date_trunc('hour', ts) AS hour, code,
       count(*) AS transactions, sum(coalesce(amount_minor, 0)) AS amount_minor
FROM (
    SELECT trim(terminal_id) AS terminal_id,
           coalesce(trim(merchant_id), '') AS merchant_id,
           coalesce(trim(merchant_name), '') AS merchant_name,
           try_cast(timestamp AS TIMESTAMPTZ) AS ts,
           CASE WHEN length(trim(response_code)) = 1 AND trim(response_code) BETWEEN '0' AND '9'
                THEN '0' || trim(response_code) ELSE upper(trim(response_code)) END AS code,
           CAST(round(try_cast(amount AS DECIMAL(18, 2)) * 100) AS BIGINT) AS amount_minor
    FROM read_csv('@INPUT@', all_varchar = true, header = true, ignore_errors = true)
)
WHERE ts IS NOT NULL AND coalesce(terminal_id, '') <> '' AND coalesce(code, '') <> ''
GROUP BY ALL;
CREATE TEMP TABLE classed AS
SELECT c.*, coalesce(k.class, 'unknown') AS class FROM cube c LEFT JOIN codes k USING (code);

COPY (
    SELECT terminal_id, arg_max(merchant_id, transactions) AS merchant_id,
           sum(transactions) AS transactions,
           coalesce(sum(transactions) FILTER (class = 'approved'), 0) AS approved,
           coalesce(sum(transactions) FILTER (class = 'declined'), 0) AS declined,
           coalesce(sum(transactions) FILTER (class = 'fraud'), 0) AS fraud,
           coalesce(sum(transactions) FILTER (class = 'network'), 0) AS network,
           coalesce(sum(transactions) FILTER (class = 'terminal'), 0) AS terminal,
           coalesce(sum(transactions) FILTER (class = 'unknown'), 0) AS unknown,
           1 - coalesce(sum(transactions) FILTER (class = 'approved'), 0) / sum(transactions) AS failure_rate,
           coalesce(sum(transactions) FILTER (class = 'terminal'), 0) / sum(transactions) AS terminal_fault_rate
    FROM classed GROUP BY terminal_id ORDER BY terminal_id
) TO '@OUT@/by_terminal.csv';
COPY (
    SELECT date_trunc('day', hour) AS period_start, sum(transactions) AS transactions,
           coalesce(sum(transactions) FILTER (class = 'approved'), 0) AS approved,
           coalesce(sum(transactions) FILTER (class = 'declined'), 0) AS declined,
           coalesce(sum(transactions) FILTER (class = 'fraud'), 0) AS fraud,
           coalesce(sum(transactions) FILTER (class = 'network'), 0) AS network,
           coalesce(sum(transactions) FILTER (class = 'terminal'), 0) AS terminal,
           coalesce(sum(transactions) FILTER (class = 'unknown'), 0) AS unknown,
           1 - coalesce(sum(transactions) FILTER (class = 'approved'), 0) / sum(transactions) AS failure_rate
    FROM classed GROUP BY 1 ORDER BY 1
) TO '@OUT@/by_period.csv';
COPY (
    SELECT code AS response_code, any_value(class) AS class, sum(transactions) AS n,
           sum(transactions) / (SELECT sum(transactions) FROM cube) AS share
    FROM classed GROUP BY code ORDER BY n DESC, code
) TO '@OUT@/by_code.csv';
COPY (
    SELECT merchant_id, arg_max(merchant_name, transactions) AS merchant_name,
           count(DISTINCT terminal_id) AS terminals, sum(transactions) AS transactions,
           coalesce(sum(transactions) FILTER (class = 'approved'), 0) AS approved,
           coalesce(sum(transactions) FILTER (class = 'declined'), 0) AS declined,
           coalesce(sum(transactions) FILTER (class = 'fraud'), 0) AS fraud,
           coalesce(sum(transactions) FILTER (class = 'network'), 0) AS network,
           coalesce(sum(transactions) FILTER (class = 'terminal'), 0) AS terminal,
           coalesce(sum(transactions) FILTER (class = 'unknown'), 0) AS unknown,
           1 - coalesce(sum(transactions) FILTER (class = 'approved'), 0) / sum(transactions) AS failure_rate
    FROM classed GROUP BY merchant_id ORDER BY merchant_id
) TO '@OUT@/by_merchant.csv';
