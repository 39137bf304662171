# odd_indent.py: match statements under 2-space and tab indentation (round-trip data).
def f(x):
  match x:
    case 1:
      s = """a
  b
    c"""
      t = (1,
   2)
    case _:  # c

      pass
  return x

class C:
	def m(self, y):
		match y:
			case [a, *rest]:
				return a
			case {"k": v, **kw} if v \
  > 1:
				return v
