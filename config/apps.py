from django.contrib.admin.apps import AdminConfig


class LyceumAdminConfig(AdminConfig):
    """django.contrib.admin with Lyceum's site (config/admin_site.py) as the default site."""

    default_site = "config.admin_site.LyceumAdminSite"
