#!/usr/bin/python3
"""Request streams for bench/sfrun_bench.sh (JSON lines, DESIGN 4.5).
usage: gen_requests.py accounts N_ACCOUNTS  |  calls N N_ACCOUNTS  |  transfers N N_ACCOUNTS"""
import random
import sys


def main():
    kind = sys.argv[1]
    rnd = random.Random(42)
    out = sys.stdout
    if kind == "accounts":
        n = int(sys.argv[2])
        for i in range(n):
            out.write('{"op":"create","entity":"Account","args":["a%d",1000]}\n' % i)
    elif kind == "calls":
        n, accounts = int(sys.argv[2]), int(sys.argv[3])
        for i in range(n):
            out.write('{"id":%d,"op":"call","entity":"Account","key":"a%d","method":"add","args":[1]}\n'
                      % (i, rnd.randrange(accounts)))
    elif kind == "transfers":
        n, accounts = int(sys.argv[2]), int(sys.argv[3])
        for i in range(n):
            a = rnd.randrange(accounts)
            b = (a + 1 + rnd.randrange(accounts - 1)) % accounts
            out.write('{"id":%d,"op":"call","entity":"Account","key":"a%d","method":"transfer",'
                      '"args":[%d,{"$ref":["Account","a%d"]}]}\n' % (i, a, rnd.randrange(1, 20), b))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
