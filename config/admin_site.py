"""Lyceum's admin site: Django's, with its name and the figures staff watch on the index.

Installed through `config.apps.LyceumAdminConfig` (in place of "django.contrib.admin"), so
`django.contrib.admin.site` — where every app registers — is this site.
"""

from django.contrib import admin

from config import dashboard


class LyceumAdminSite(admin.AdminSite):
    site_header = "Lyceum administration"
    site_title = "Lyceum administration"
    index_title = "Lyceum administration"
    # Lists get the whole width of a laptop beside their filters (the index and the
    # breadcrumbs lead everywhere the sidebar did).
    enable_nav_sidebar = False

    def index(self, request, extra_context=None):
        context = {"dashboard": dashboard.collect(), **(extra_context or {})}
        return super().index(request, extra_context=context)
