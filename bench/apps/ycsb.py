"""Benchmark program for YCSB workloads A, B and M (bench/ycsbt).

A Record is a YCSB row: its key, ten fields of 100 bytes (YCSB's default
record: field0..field9, kept here as one list so an update can name the
field by number) and a balance so that workload M can mix YCSB+T transfers
into the reads and updates and still be checked as a closed economy.
Workload T uses bench/apps/accounts.py (Account)."""
from stateflow import entity


@entity
class Record:
    def __init__(self, key: str, balance: int, fields: list):
        self.key: str = key
        self.balance: int = balance
        self.fields: list = fields

    def __key__(self):
        return self.key

    def read(self) -> list:
        """YCSB read: every field of the record."""
        return self.fields

    def update(self, field: int, value: str) -> bool:
        """YCSB update: overwrite one field."""
        self.fields[field] = value
        return True

    def balance_of(self) -> int:
        return self.balance

    def add(self, amount: int) -> int:
        self.balance += amount
        return self.balance

    def transfer(self, amount: int, to: "Record") -> bool:
        """YCSB+T transfer: read both balances, move amount, refuse on
        insufficient funds."""
        if self.balance < amount:
            return False
        to.add(amount)
        self.balance -= amount
        return True
