from .prices import nightly_price
