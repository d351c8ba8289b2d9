"""Stackable pathways: Achievements whose criteria name other Achievements. Pure graph checks and policy.

Policy for revoked components (documented in the service README):
- A pathway award is never retracted automatically when one of its components is revoked: revoking a credential
  is a human decision with a reason, and the pathway may still be deserved (the component may be re-earned, or
  the revocation may concern the component's evidence only). The assessment service records, for each pathway
  award that used the revoked component, a report row an administrator reviews
  (`GET /v1/tenants/{tenant}/pathway-reports`), and revokes the pathway badge through the issuer if warranted.
- A revoked component no longer counts towards pathways not yet earned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def find_cycle(components: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle in the 'achievement -> its component achievements' graph, as a path [a, b, ..., a], or None.

    A cyclic pathway could never be earned, so the admin API refuses it when it is written."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in on_path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        on_path.add(node)
        for child in sorted(components.get(node, ())):
            cycle = visit(child)
            if cycle:
                return cycle
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for start in sorted(components):
        cycle = visit(start)
        if cycle:
            return cycle
    return None
