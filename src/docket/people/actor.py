"""Who acts on a request: :class:`Actor`, a person (or docket itself) in a workflow role.

It lives here, below :mod:`docket.api` and :mod:`docket.steps`, because both need it: the API
builds an actor from whoever is calling, and a step records that actor in history and PROV
without knowing how the caller signed in (so no step has to import the API).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from docket.documents import check_text
from docket.people.accounts import Account
from docket.provenance import identifiers as ids


@dataclass(frozen=True)
class Actor:
    """Someone (or something) acting on a request, in a role.

    Built by the API from whoever is calling (an account, a provider's link, the provider a
    request names); ``person`` is an account's opaque PROV identifier.
    """

    name: str
    role: str = "data-manager"
    email: str | None = None
    orcid: str | None = None
    person: str | None = None

    def __post_init__(self) -> None:
        # Stored in text columns and PROV: a NUL or a lone surrogate would be kept by one store
        # and refused by the other (or fail to encode), so it is a refusal before either sees it.
        for what in ("name", "role", "email", "orcid"):
            value = getattr(self, what)
            if isinstance(value, str):
                check_text(value, f"the actor's {what}")

    @property
    def label(self) -> str:
        return self.email or self.orcid or self.name

    @property
    def prov_id(self) -> str:
        if self.person:
            return ids.QName(self.person)
        return ids.person_id(self.email, self.orcid, self.name)

    @classmethod
    def of_account(cls, account: Account) -> Actor:
        return cls(account.name, account.role, account.email, account.orcid, account.person_id)

    @classmethod
    def provider_of(cls, doc: dict[str, Any]) -> Actor:
        """The provider a request names, acting for themselves (the page, a link, an e-mail)."""
        provider = doc["provider"]
        return cls(provider["name"], "provider", provider.get("email"), provider.get("orcid"))

    @classmethod
    def system(cls) -> Actor:
        """docket itself, running a step nobody started by hand (a batch without a person)."""
        return cls("docket", "system")
