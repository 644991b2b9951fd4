"""The accounts-and-databases area of the Tencent face: database accounts, their privileges, and
databases of an instance (``CreateAccount`` ... ``DescribeDatabaseObjects``): schemas, fields, handlers."""
