"""The operations agents call on czar: reports, the board, claims, finishing, asking."""
