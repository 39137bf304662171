"""stateflow: the package StateFlow applications import.

Mark each entity class with ``@entity`` (or its alias ``@stateflow``, or
``@stateflow.entity`` after ``import stateflow``)::

    from stateflow import entity

    @entity
    class Item:
        def __init__(self, item_id: str, price: int):
            self.item_id: str = item_id
            self.price: int = price

        def __key__(self):
            return self.item_id

The decorator returns the class itself, unchanged apart from a marker
attribute, so the same ``app.py`` runs as plain Python: unit-test business
logic by creating objects and calling methods directly.  ``sfc app.py -o
app.sfir`` compiles the module for the StateFlow runtime; the compiler
recognises the decorator syntactically and removes it, so nothing in this
package runs inside the runtime.

What plain Python does not give you (the runtime does): every client request
is a transaction (an exception rolls back the effects on every entity), and
values passed to or returned from another entity are copies.  See
docs/programming-model.md.

Entity lifecycle inside methods: calling an entity class creates an
instance (``order = Order(order_id, self)``; in the runtime a create in the
same transaction, raising ``AlreadyExists`` when the key exists) and
``stateflow.delete(ref)`` deletes one (``stateflow.delete(self)`` the
instance itself; later references to it answer ``NotFound``).  See
docs/programming-model.md "Entity lifecycle".

A client for talking to a running ``stateflowd`` lives in
``stateflow.client``.
"""

from typing import Any, List

__all__ = ["entity", "stateflow", "entities", "is_entity", "key_of", "delete",
           "AlreadyExists", "NotFound"]
__version__ = "0.1.0"

# The marker the decorator sets on a class; tools (the differential test
# harness, the future client) use it to find entity classes in a module.
ENTITY_MARKER = "__stateflow_entity__"

# Every class decorated in this process, in decoration order. The list is
# the package's only state; it only ever grows (classes are never removed).
_registry: List[type] = []


def entity(cls: type) -> type:
    """Mark ``cls`` as a StateFlow entity and return it unchanged.

    The class must define ``__init__`` and ``__key__`` (the key identifies an
    instance; it is computed once, after ``__init__``).  Raises TypeError at
    decoration time otherwise, as ``sfc`` rejects such a class too.
    """
    if not isinstance(cls, type):
        raise TypeError(
            "@entity decorates a class, not %s" % type(cls).__name__)
    name = cls.__name__
    if getattr(cls, "__init__", object.__init__) is object.__init__:
        raise TypeError("@entity class %s must define __init__" % name)
    if not callable(getattr(cls, "__key__", None)):
        raise TypeError("@entity class %s must define __key__" % name)
    setattr(cls, ENTITY_MARKER, True)
    if cls not in _registry:
        _registry.append(cls)
    return cls


# ``@stateflow`` is the same decorator (the paper spells it this way).
stateflow = entity


def entities() -> List[type]:
    """A new list of every entity class decorated so far, in order."""
    return list(_registry)


def is_entity(obj: Any) -> bool:
    """True for an entity class or an instance of one."""
    cls = obj if isinstance(obj, type) else type(obj)
    return bool(cls.__dict__.get(ENTITY_MARKER, False))


def key_of(obj: Any) -> Any:
    """The key of an entity instance (what ``__key__`` returns)."""
    if isinstance(obj, type) or not is_entity(obj):
        raise TypeError("key_of() needs an entity instance, not %s"
                        % type(obj).__name__)
    return obj.__key__()


class AlreadyExists(Exception):
    """Creating an entity whose key is taken (the runtime's error type)."""


class NotFound(Exception):
    """An entity instance that does not exist (deleted, or never created)."""


# What delete() does besides checking its argument: a host that keeps
# instances by key (the runtime, tests/diff/plain.py) sets _hooks["delete"]
# to a function of the instance. Without one, delete() only checks.
_hooks: dict = {}


def delete(obj: Any) -> None:
    """Delete the entity instance ``obj`` (``self`` or a reference).

    Inside an entity method compiled by ``sfc`` this is a remote operation of
    the transaction: the instance is gone when the transaction commits, and
    every later use of a reference to it (in the same transaction too)
    raises ``NotFound``.  An aborted transaction deletes nothing.  Returns
    None.
    """
    if isinstance(obj, type) or not is_entity(obj):
        raise TypeError("delete() needs an entity instance, not %s"
                        % type(obj).__name__)
    fn = _hooks.get("delete")
    if fn is not None:
        fn(obj)
