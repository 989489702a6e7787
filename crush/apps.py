from django.contrib.admin.apps import AdminConfig


class CrushAdminConfig(AdminConfig):
    """Makes `admin.site` (what every app's admin.py registers with) the Crush admin site."""

    default_site = "crush.admin_site.CrushAdminSite"
