"""What the tests share: webhook bodies, a customer, a database proxy, processes."""
