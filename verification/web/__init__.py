"""What the portal answers on the web: the URL map (`urls`), the person's
pages and steps (`views`, `steps`, `uploads`), the integration API (`api`),
embedding (`embedding`), the demo landing page (`demo`), the error pages and
the start-up checks. Views are thin: one service call each."""
