"""Twisted finds endpoint parsers here (twisted.plugins, extended by every `twisted/plugins`
directory on sys.path that is not a package): `daphne -e lyceum:tcp:…` (config.http_endpoint)."""

from config.http_endpoint import UnparsedFormsEndpointParser

lyceum_endpoint = UnparsedFormsEndpointParser()
