"""The plumbing of the API surfaces (errors, base views, pagination, links, parsing); imports no app."""
