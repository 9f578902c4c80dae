"""The back office, inside Django's admin: the review queue and session
page (`sessions`), integration clients and their keys (`clients`), the
records staff read (`records`), media (`media`), the dashboard and the CSV
export, and the admin site itself with its sign-in rules (`site`,
`login_throttle`, `admin_sessions`)."""
