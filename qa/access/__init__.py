"""Who may see which call: users, teams and roles, the scoped read layer, audit, deletion, retention.

Every read of calls (dashboard pages, the CLI's listings, reports) goes through
`CallRepository` with a `Viewer`; the viewer's scope is applied in the SQL of each query
(`qa.access.scope`), and reviewer overrides are laid over automatic results in exactly one
place (`qa.access.effective`). `DuckDBRepository` is today's engine; a PostgreSQL engine
implements the same `CallRepository` protocol.

Files beside the store `callqa.duckdb` (the batch writes only the store):
  callqa.reviews.duckdb   reviewer overrides (qa.reviews), written by dashboard processes
  callqa.access.duckdb    users, teams and the append-only audit trail, written by the
                          dashboard and the `callqa users|audit|delete` commands
"""

from qa.access.model import ADMIN_ROLES, GRANTS, ROLES, AccessDenied, Scope, User, Viewer

__all__ = ["ADMIN_ROLES", "GRANTS", "ROLES", "AccessDenied", "Scope", "User", "Viewer"]
