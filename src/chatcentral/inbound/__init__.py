"""One inbound message, one unit of work: the customer, the session, the facts the engine
needs, its effects and its replies, in one transaction in the shop's schema."""
