"""``python -m callcenter.transfer.tail_worker JOB ANSWER``: the child process that reads a big CSV's tail.

A module of its own so that the child runs nothing but this (see :mod:`.csv_split`).
"""
if __name__ == "__main__":
    import sys

    from callcenter.transfer.csv_split import serve_one
    serve_one(sys.argv[1], sys.argv[2])
