"""Errors that services raise for callers to show to a person."""


class ServiceError(Exception):
    """A business rule refused the operation; str(error) is plain English for the user."""


class TransitionError(ServiceError):
    """The order cannot move from its current status to the one asked for."""


class NotEditable(ServiceError):
    """The order is no longer on hold, so it cannot be changed by a publisher."""


ERROR_NOT_ON_HOLD = "Order {order} is {status}; only orders on hold can be changed or deleted."
ERROR_NOT_EDITABLE = (
    "Order {order} is {status}; only orders on hold, or scheduled in their edit window, can be "
    "changed."
)
ERROR_TRANSITION = "Order {order} cannot go from {current} to {target}."
ERROR_WINDOW_ENDED = (
    "Order {order}'s edit window ended at {moment}: it goes to production and can no longer be "
    "changed or cancelled."
)
