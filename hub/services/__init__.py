"""Domain services: the rules, the transactions, authorization."""
