"""Preloaded by the forkserver the issuer's signing workers are forked from (`SigningPool`): importing it imports
and warms what signing needs, so that every worker starts ready, for the price of one import and one signature."""

import structlog

from services.issuer.signing import warm_up

try:
    warm_up()
except Exception as error:  # a cold worker still signs; a forkserver that failed to start signs nothing
    structlog.get_logger(__name__).warning("issuer.signing_warm_up_failed", error=repr(error))
