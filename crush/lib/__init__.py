"""Building blocks shared by every app: they import no app (and no surface plumbing)."""
