"""The `lyceum:` listening endpoint for daphne: Twisted's own, minus Twisted's form parsing.

    daphne -e lyceum:tcp:port=8000:interface=127.0.0.1 config.asgi:application

Twisted's HTTP request parses every POST body sent as multipart/form-data (and url-encoded)
into `request.args` before daphne sees the request — daphne never reads them, it hands the raw
body to Django, which parses it again. That parse is not free: the body is held and walked by
the e-mail package on the event loop (a 10 MB upload takes ~0.7 s and ~115 MB, 100,000 small
parts ~4 s, during which no other socket of the process is served), and a body it cannot read
as MIME (an empty multipart, a missing boundary) is answered by Twisted itself with a bare
"400 Bad Request" and a closed connection: no JSON, no request id, nothing Django decided.

Twisted's Request takes `parsePOSTFormSubmission=False` for exactly this. daphne builds its
requests itself, so this endpoint wraps any Twisted server endpoint (`lyceum:` followed by the
usual description: `tcp:port=…:interface=…:backlog=…`) and gives each HTTP connection daphne
builds a request factory that passes that flag. Everything else — daphne's request class, its
protocol, TLS — is left as it is. Django then parses the body once and answers a bad one with
the API's JSON 400.

The parser is found by Twisted's plugin system (twisted/plugins/lyceum_http.py at the project
root, which daphne puts on sys.path).
"""

import functools

from twisted.internet.endpoints import quoteStringArgument, serverFromString
from twisted.internet.interfaces import (
    IProtocolNegotiationFactory,
    IStreamServerEndpoint,
    IStreamServerEndpointStringParser,
)
from twisted.plugin import IPlugin
from zope.interface import implementer

PREFIX = "lyceum"


class UnparsedFormsFactory:
    """Stands in for daphne's HTTP factory: builds what it builds, then makes the connection's
    requests leave the body unparsed. Anything else is the wrapped factory's."""

    def __init__(self, wrapped):
        self.wrapped = wrapped

    def buildProtocol(self, addr):
        protocol = self.wrapped.buildProtocol(addr)
        if protocol is not None and getattr(protocol, "requestFactory", None) is not None:
            protocol.requestFactory = functools.partial(protocol.requestFactory, parsePOSTFormSubmission=False)
        return protocol

    def __getattr__(self, name):
        return getattr(self.wrapped, name)


@implementer(IProtocolNegotiationFactory)
class _NegotiatingUnparsedFormsFactory(UnparsedFormsFactory):
    """The same, for a factory that negotiates protocols (TLS with ALPN: HTTP/2 or HTTP/1.1)."""

    def acceptableProtocols(self):
        return self.wrapped.acceptableProtocols()


def unparsed_forms(factory):
    if IProtocolNegotiationFactory.providedBy(factory):
        return _NegotiatingUnparsedFormsFactory(factory)
    return UnparsedFormsFactory(factory)


@implementer(IStreamServerEndpoint)
class UnparsedFormsEndpoint:
    def __init__(self, inner):
        self.inner = inner

    def listen(self, protocolFactory):
        return self.inner.listen(unparsed_forms(protocolFactory))


@implementer(IPlugin, IStreamServerEndpointStringParser)
class UnparsedFormsEndpointParser:
    """`lyceum:<any server endpoint description>`."""

    prefix = PREFIX

    def parseStreamServer(self, reactor, *args, **kwargs):
        if not args:
            raise ValueError("lyceum: needs an endpoint after it, e.g. lyceum:tcp:port=8000")
        parts = [quoteStringArgument(str(arg)) for arg in args]
        parts += [f"{key}={quoteStringArgument(str(value))}" for key, value in kwargs.items()]
        return UnparsedFormsEndpoint(serverFromString(reactor, ":".join(parts)))
