"""The seed each simulated chat or email customer's persona was made with, kept in the database
(``simulated_customers``).

The owner record in Redis (simulator/ownership.py) carries the seed too, for the process that takes a customer
over; but a Redis flush takes that record with it, and a customer that had already spoken cannot be rebuilt with
another seed (its persona draws its lines, patience and moves from it). So the seed is also written here when
the customer starts (an email customer: when each of its contacts opens), and a take-over with no owner record
reads it back (simulator/chat_takeover.py ``_seed_of``, simulator/email_takeover.py ``_with_recorded_seed``).
Written once per contact, read only at a take-over.
"""

from __future__ import annotations

from contacts.transaction import atomic
from extensions import db

from .models import SimulatedCustomer


def do_record_seed(contact_id: int, seed: int, *, exercise_id: int | None = None, started_by: int | None = None):
    """Record the seed of the simulated customer of ``contact_id`` (one transaction; joins the caller's action
    when there is one). A seed already recorded is kept: it is the one the customer was started with."""
    with atomic():
        if db.session.get(SimulatedCustomer, contact_id) is None:
            db.session.add(
                SimulatedCustomer(contact_id=contact_id, seed=seed, exercise_id=exercise_id, started_by=started_by)
            )


def recorded_seed(contact_id: int) -> SimulatedCustomer | None:
    """The seed (and exercise, starter) recorded for the simulated customer of ``contact_id``, if any."""
    return db.session.get(SimulatedCustomer, contact_id)
