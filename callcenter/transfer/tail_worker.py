"""``python -m callcenter.transfer.tail_worker``: the child process that reads a big CSV's second half.

A module of its own so that the child runs nothing but this (see :mod:`.csv_split`).
"""
if __name__ == "__main__":
    from callcenter.transfer.csv_split import serve_one
    serve_one()
