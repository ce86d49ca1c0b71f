"""Cards pinned at the top of a conversation, provided by apps above chat.

Chat knows nothing of help requests (helpdesk sits above it), so helpdesk registers a provider
at start-up (its AppConfig.ready): provider(user=, conversation=, other=) returns the HTML of the
cards that user sees pinned in that conversation (``other``: the other member of a direct
conversation, None in a group), each already rendered and escaped by its own template. The
conversation page renders them on load (no JavaScript needed); the provider's own script keeps
them up to date.
"""

from collections.abc import Callable, Sequence

from django.utils.safestring import SafeString

PinProvider = Callable[..., Sequence[SafeString]]
_providers: list[PinProvider] = []


def register_pin_provider(provider: PinProvider) -> None:
    """Called once per providing app at start-up; registering the same provider again is a no-op."""
    if provider not in _providers:
        _providers.append(provider)


def pinned_for(*, user, conversation, other) -> list[SafeString]:
    """Every registered provider's cards for this user in this conversation, in registration order."""
    cards: list[SafeString] = []
    for provider in _providers:
        cards.extend(provider(user=user, conversation=conversation, other=other))
    return cards
