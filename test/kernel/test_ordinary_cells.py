"""Ordinary scientific Python, the kind a VLM writes for spatial reasoning, must run in the
kernel exactly as in a notebook: the sandbox may refuse none of it. Each cell is
self-contained and states its exact output."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from spatialclaw_ros.kernel import Kernel

from .conftest import BrightestSpotVLM, SensorPerception, make_frames


@dataclass(frozen=True)
class Cell:
    id: str
    code: str
    stdout: str
    images: tuple[tuple[int, int, int], ...] = ()
    warnings: tuple[str, ...] = ()


CELLS = [
    Cell(
        "dataclass",
        "from dataclasses import dataclass, field\n"
        "@dataclass\nclass Obj:\n    name: str\n    pos: tuple\n"
        "    tags: list = field(default_factory=list)\n"
        "o = Obj('chair', (1.0, 2.0))\nprint(o, o == Obj('chair', (1.0, 2.0)))",
        "Obj(name='chair', pos=(1.0, 2.0), tags=[]) True\n",
    ),
    Cell(
        "frozen-ordered-dataclass",
        "from dataclasses import dataclass, asdict\n"
        "@dataclass(frozen=True, order=True)\nclass D:\n    dist: float\n    label: str = 'x'\n"
        "print(sorted([D(2.0, 'b'), D(1.0, 'a')])[0], asdict(D(3.0)))",
        "D(dist=1.0, label='a') {'dist': 3.0, 'label': 'x'}\n",
    ),
    Cell(
        "typing-namedtuple",
        "from typing import NamedTuple\nclass P(NamedTuple):\n    x: float\n    y: float = 0.0\n"
        "p = P(1.5)\nprint(p, p._asdict(), p._replace(y=2), p.x + p.y)",
        "P(x=1.5, y=0.0) {'x': 1.5, 'y': 0.0} P(x=1.5, y=2) 1.5\n",
    ),
    Cell(
        "collections-namedtuple",
        "from collections import namedtuple\nPt = namedtuple('Pt', 'x y')\n"
        "print(Pt(1, 2), Pt._fields, Pt._make([3, 4]).y)",
        "Pt(x=1, y=2) ('x', 'y') 4\n",
    ),
    Cell(
        "enum",
        "from enum import Enum, auto\nclass Side(Enum):\n    LEFT = auto()\n    RIGHT = auto()\n"
        "print(Side.LEFT, Side.RIGHT.value, [s.name for s in Side], Side['LEFT'] is Side.LEFT)",
        "Side.LEFT 2 ['LEFT', 'RIGHT'] True\n",
    ),
    Cell(
        "class-features",
        "class Cls:\n    count = 0\n    def __init__(self, v):\n        self.v = v\n"
        "        Cls.count += 1\n"
        "    def __repr__(self):\n        return f'Cls({self.v})'\n"
        "    def __lt__(self, o):\n        return self.v < o.v\n"
        "    @property\n    def double(self):\n        return self.v * 2\n"
        "    @classmethod\n    def make(cls, v):\n"
        "        return cls(v)\n    @staticmethod\n    def unit():\n        return 'm'\n"
        "print(sorted([Cls(3), Cls.make(1)]), Cls(2).double, Cls.unit(), Cls.count)",
        "[Cls(1), Cls(3)] 4 m 3\n",
    ),
    Cell(
        "inheritance-super-abc",
        "from abc import ABC, abstractmethod\nclass Shape(ABC):\n    @abstractmethod\n"
        "    def area(self): ...\n"
        "    def describe(self):\n        return f'{type(self).__name__} {self.area():.1f}'\n"
        "class Square(Shape):\n    def __init__(self, s):\n        self.s = s\n"
        "    def area(self):\n        return self.s ** 2\n"
        "class Cube(Square):\n    def area(self):\n        return 6 * super().area()\n"
        "try:\n    Shape()\nexcept TypeError:\n    print('abstract')\n"
        "print(Square(2).describe(), Cube(1).describe())",
        "abstract\nSquare 4.0 Cube 6.0\n",
    ),
    Cell(
        "generators",
        "def squares(n):\n    for i in range(n):\n        yield i * i\n"
        "def chain(*its):\n    for it in its:\n        yield from it\n"
        "g = squares(4)\n"
        "print(next(g), list(g), list(chain('ab', [1])), sum(x for x in range(5)))",
        "0 [1, 4, 9] ['a', 'b', 1] 10\n",
    ),
    Cell(
        "comprehensions",
        "sq = {k: v ** 2 for k, v in zip('abc', range(3))}\nst = {x % 3 for x in range(10)}\n"
        "print(sq, st, [(i, j) for i in range(2) for j in range(2) if i != j], [[r * c "
        "for c in range(2)] for r in range(2)])",
        "{'a': 0, 'b': 1, 'c': 4} {0, 1, 2} [(0, 1), (1, 0)] [[0, 0], [0, 1]]\n",
    ),
    Cell(
        "lambdas-map-filter",
        "scale = lambda x, k=2: x * k\n"
        "print(scale(3), list(map(lambda v: v + 1, [1, 2])), list(filter(None, [0, 1, "
        "2])), "
        "sorted(['bb', 'a', 'ccc'], key=len))",
        "6 [2, 3] [1, 2] ['a', 'bb', 'ccc']\n",
    ),
    Cell(
        "decorators",
        "import functools\ndef logged(f):\n    @functools.wraps(f)\n    def wrapper(*a, **kw):\n"
        "        print('calling', f.__name__)\n        return f(*a, **kw)\n    return wrapper\n"
        "@logged\ndef add(a, b):\n    '''Add.'''\n    return a + b\n"
        "print(add(2, 3), add.__name__, add.__doc__)",
        "calling add\n5 add Add.\n",
    ),
    Cell(
        "lru-cache-recursion",
        "import functools\n@functools.lru_cache(maxsize=None)\ndef fib(n):\n"
        "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
        "def flatten(x):\n    return [a for i in x for a in flatten(i)] if "
        "isinstance(x, list) else [x]\n"
        "print(fib(80), flatten([1, [2, [3, [4]]]]))",
        "23416728348467685 [1, 2, 3, 4]\n",
    ),
    Cell(
        "try-except-finally",
        "def safe_div(a, b):\n    try:\n        return a / b\n"
        "    except ZeroDivisionError as e:\n        print('caught', e)\n"
        "        return float('inf')\n    finally:\n        print('done', a)\n"
        "print(safe_div(1, 0))\ntry:\n    raise KeyError('k')\n"
        "except (KeyError, ValueError) as e:\n    print(type(e).__name__, e.args)\n"
        "else:\n    print('no')",
        "caught division by zero\ndone 1\ninf\nKeyError ('k',)\n",
    ),
    Cell(
        "f-string-format-specs",
        "x = "
        "3.14159\n"
        "print(f'{x:.2f}|{x:8.3f}|{42:05d}|{0.5:.1%}|{1234567:,}|{x!r}|{\"a\":>4}|{x=}|{255:#x}|{1e-5:.2e}')\n"
        "print('{:.1f} m and {:>5}'.format(2.345, 'ok'), '%.2f %d %s' % (1.005, 7, 'z'))",
        "3.14|   3.142|00042|50.0%|1,234,567|3.14159|   a|x=3.14159|0xff|1.00e-05\n"
        "2.3 m and    ok 1.00 7 z\n",
    ),
    Cell(
        "print-numpy",
        "a = np.arange(6).reshape(2, 3)\nprint(a)\n"
        "print(a.mean(), np.float32(1.5), np.int64(3), a.dtype, a.shape)\n"
        "{'a': a[0], 'f': np.array([0.5, 2.0])}",
        "[[0 1 2]\n [3 4 5]]\n2.5 1.5 3 int64 (2, 3)\n"
        "{'a': array([0, 1, 2]), 'f': array([0.5, 2. ])}\n",
    ),
    Cell(
        "numpy-scalar-expression",
        "v = np.array([3.0, 4.0])\nnp.linalg.norm(v)",
        "np.float64(5.0)\n",
    ),
    Cell(
        "linalg",
        "M = np.array([[2.0, 1.0], [1.0, 3.0]])\nw, _ = np.linalg.eigh(M)\n"
        "print(np.round(w, 4), round(float(np.linalg.det(M)), 6), "
        "np.allclose(np.linalg.inv(M) @ M, np.eye(2)))\n"
        "print(np.round(np.linalg.svd(M)[1], 4), np.linalg.lstsq(M, [1, 2], "
        "rcond=None)[0].round(4), np.linalg.solve(M, [3, 4]))",
        "[1.382 3.618] 5.0 True\n[3.618 1.382] [0.2 0.6] [1. 1.]\n",
    ),
    Cell(
        "percentiles-nan",
        "d = np.array([1.0, 2.0, np.nan, 4.0, 100.0])\n"
        "print(np.percentile([1, 2, 3, 4], 50), np.nanmedian(d), np.nanmean(d), "
        "round(float(np.nanpercentile(d, 90)), 2), "
        "np.isnan(d).sum(), np.nanargmax(d))",
        "2.5 3.0 26.75 71.2 1 4\n",
    ),
    Cell(
        "scipy-spatial",
        "from scipy.spatial import cKDTree, ConvexHull, distance\n"
        "pts = np.array([[0, 0], [2, 0], [0, 2], [2, 2], [1, 1]], float)\n"
        "d, i = cKDTree(pts).query([1.9, 1.8])\nhull = ConvexHull(pts)\n"
        "print(round(float(d), 4), int(i), hull.volume, sorted(hull.vertices.tolist()), "
        "distance.cdist([[0, 0]], [[3, 4]]).tolist(), "
        "distance.euclidean([0, 0, 0], [1, 2, 2]))",
        "0.2236 3 4.0 [0, 1, 2, 3] [[5.0]] 3.0\n",
    ),
    Cell(
        "scipy-rotation",
        "from scipy.spatial.transform import Rotation as R\n"
        "r = R.from_euler('z', 90, degrees=True)\n"
        "print(np.round(r.apply([1, 0, 0]), 6) + 0.0, np.round(r.as_euler('xyz', "
        "degrees=True), 6) + 0.0, "
        "np.round(r.inv().as_rotvec(), 4) + 0.0, round(float(r.magnitude()), 4))",
        "[0. 1. 0.] [ 0.  0. 90.] [ 0.      0.     -1.5708] 1.5708\n",
    ),
    Cell(
        "scipy-optimize",
        "from scipy.optimize import least_squares, minimize\n"
        "res = least_squares(lambda p: p - np.array([1.0, 2.0]), x0=[0, 0])\n"
        "m = minimize(lambda p: (p[0] - 3) ** 2 + (p[1] + 1) ** 2, x0=[0, 0])\n"
        "print(np.round(res.x, 4) + 0.0, np.round(m.x, 3) + 0.0, bool(m.success))",
        "[1. 2.] [ 3. -1.] True\n",
    ),
    Cell(
        "scipy-ndimage",
        "from scipy import ndimage\nimg = np.zeros((10, 10), bool)\n"
        "img[1:4, 1:4] = True\nimg[6:9, 5:9] = True\n"
        "lab, n = ndimage.label(img)\n"
        "print(n, int(ndimage.binary_erosion(img).sum()), [tuple(float(v) for v in c) "
        "for c in ndimage.center_of_mass(img, lab, [1, 2])], "
        "int(ndimage.binary_dilation(img).sum()))",
        "2 3 [(2.0, 2.0), (7.0, 6.5)] 47\n",
    ),
    Cell(
        "scipy-stats",
        "from scipy import stats\nlr = stats.linregress([0, 1, 2, 3], [1, 3, 5, 7])\n"
        "print(round(float(stats.pearsonr([1, 2, 3, 4], [2, 4, 6, 8])[0]), 6), "
        "int(stats.mode([1, 1, 2]).mode), lr.slope, lr.intercept, "
        "round(float(stats.norm.cdf(0)), 3))",
        "1.0 1 2.0 1.0 0.5\n",
    ),
    Cell(
        "cv2-contours-components",
        "import cv2\nim = np.zeros((60, 80, 3), np.uint8)\n"
        "cv2.rectangle(im, (10, 10), (29, 39), (255, 0, 0), -1)\n"
        "cv2.circle(im, (60, 30), 8, (0, 255, 0), -1)\n"
        "gray = cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)\n"
        "_, th = cv2.threshold(gray, 10, 255, cv2.THRESH_BINARY)\n"
        "cnts, _ = cv2.findContours(th, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)\n"
        "n, lab, st, cent = cv2.connectedComponentsWithStats((th > 0).astype(np.uint8))\n"
        "(cx, cy), (w, h), ang = cv2.minAreaRect(max(cnts, key=cv2.contourArea))\n"
        "print(len(cnts), n, st[1, cv2.CC_STAT_AREA], cent[1].tolist(), sorted([w, h]), "
        "cv2.boundingRect(cnts[-1]), cv2.resize(im, (40, 30)).shape)",
        "2 3 600 [19.5, 24.5] [19.0, 29.0] (10, 10, 20, 30) (30, 40, 3)\n",
    ),
    Cell(
        "cv2-drawing-and-show",
        "import cv2\ncanvas = np.zeros((40, 50, 3), np.uint8)\n"
        "cv2.line(canvas, (0, 0), (49, 0), (255, 255, 255), 1)\n"
        "cv2.putText(canvas, 'A', (5, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1)\n"
        "cv2.polylines(canvas, [np.array([[10, 10], [40, 10], [25, 35]], np.int32)], "
        "True, (255, 0, 0), 1)\n"
        "print(canvas[0, 25].tolist(), canvas[10, 25].tolist(), bool(canvas[..., "
        "1].any()))\nshow(canvas)",
        "[255, 255, 255] [255, 0, 0] True\n",
        images=((40, 50, 3),),
    ),
    Cell(
        "matplotlib-subplots",
        "fig, axes = plt.subplots(1, 2, figsize=(4, 2), dpi=50)\naxes[0].imshow(InputImages[0])\n"
        "sc = axes[1].scatter([1, 2, 3], [3, 1, 2], c=[1, 2, 3])\n"
        "axes[1].plot([1, 3], [1, 3], label='line')\n"
        "axes[1].text(1, 1, 'pt')\naxes[1].legend()\nfig.colorbar(sc, ax=axes[1])\n"
        "axes[1].set_title('t')\nplt.tight_layout()\nplt.show()",
        "",
        images=((100, 200, 3),),
    ),
    Cell(
        "matplotlib-3d",
        "fig = plt.figure(figsize=(3, 3), dpi=50)\n"
        "ax = fig.add_subplot(111, projection='3d')\n"
        "ax.scatter([0, 1], [0, 1], [0, 1])\n"
        "ax.plot([0, 1], [1, 0], [0, 1])\nax.set_xlabel('x')\nshow(fig)",
        "",
        images=((150, 150, 3),),
    ),
    Cell(
        "matplotlib-left-open",
        "plt.figure(figsize=(2, 1), dpi=40)\nplt.bar(['a', 'b'], [1, 2])\n"
        "plt.hist(np.arange(10), bins=3)\nplt.xlabel('x')\n_ = plt.ylim(0, 5)",
        "",
        images=((40, 80, 3),),
    ),
    Cell(
        "networkx-graphs",
        "import networkx as nx\nG = nx.Graph()\n"
        "G.add_weighted_edges_from([('a', 'b', 1.0), ('b', 'c', 2.0), ('a', 'c', "
        "5.0)])\n"
        "D = nx.DiGraph([(1, 2), (2, 3)])\n"
        "print(nx.shortest_path(G, 'a', 'c', weight='weight'), "
        "nx.shortest_path_length(G, 'a', 'c', weight='weight'), "
        "dict(G.degree()), nx.minimum_spanning_tree(G).number_of_edges(), "
        "list(nx.topological_sort(D)), nx.has_path(D, 3, 1), "
        "nx.dijkstra_path_length(G, 'c', 'a'), sorted(nx.connected_components(G), "
        "key=len)[0] == {'a', 'b', 'c'})",
        "['a', 'b', 'c'] 3.0 {'a': 2, 'b': 2, 'c': 2} 2 [1, 2, 3] False 3.0 True\n",
    ),
    Cell(
        "networkx-drawing",
        "import networkx as nx\nG = nx.path_graph(4)\npos = nx.spring_layout(G, seed=1)\n"
        "fig, ax = plt.subplots(figsize=(2, 2), dpi=50)\n"
        "nx.draw(G, pos, ax=ax, with_labels=True, node_color='orange')\n"
        "nx.draw_networkx_edge_labels(G, pos, edge_labels={(0, 1): 'x'}, ax=ax)\n"
        "print(len(pos))\nplt.show()",
        "4\n",
        images=((100, 100, 3),),
    ),
    Cell(
        "collections-itertools",
        "import collections, itertools\nc = collections.Counter('abracadabra')\n"
        "dd = collections.defaultdict(list)\ndd['k'].append(1)\n"
        "print(c.most_common(2), dict(dd), collections.deque([1, 2, 3], maxlen=2), "
        "collections.OrderedDict(a=1))\n"
        "print(list(itertools.combinations([1, 2, 3], 2)), list(itertools.product([0, "
        "1], repeat=2)), "
        "[k for k, _ in itertools.groupby('aabbc')], list(itertools.accumulate([1, 2, "
        "3])), list(itertools.islice(itertools.count(5), 2)))",
        "[('a', 5), ('b', 2)] {'k': [1]} deque([2, 3], maxlen=2) OrderedDict([('a', 1)])\n"
        "[(1, 2), (1, 3), (2, 3)] [(0, 0), (0, 1), (1, 0), (1, 1)] ['a', 'b', 'c'] [1, "
        "3, 6] [5, 6]\n",
    ),
    Cell(
        "functools-statistics-math",
        "import functools, operator, statistics, math\n"
        "print(functools.reduce(operator.mul, [1, 2, 3, 4]), functools.partial(pow, "
        "2)(10), statistics.mean([1, 2, 3]), "
        "statistics.median([1, 5, 3]), round(statistics.stdev([1, 2, 3, 4]), 4), "
        "math.hypot(3, 4), math.degrees(math.atan2(1, 1)), "
        "math.isclose(0.1 + 0.2, 0.3), math.inf > 1e308, math.floor(-0.5), math.comb(5, "
        "2), math.dist([0, 0], [3, 4]))",
        "24 1024 2 3 1.291 5.0 45.0 True True -1 10 5.0\n",
    ),
    Cell(
        "json-re",
        "import json, re\ns = json.dumps({'a': [1, 2.5], 'b': None, 'c': 'é'}, sort_keys=True)\n"
        "print(s, json.loads('{\"x\": 1.5}')['x'], re.findall(r'\\d+\\.?\\d*', 'dist "
        "3.5 m and 2 m'), re.sub(r'\\s+', ' ', 'a   b'), "
        "re.match(r'([A-D])\\.', 'B. right').group(1), re.search(r'(?P<n>\\d+) m', "
        "'about 12 m').group('n'), re.split(r'[,;]', 'a,b;c'))",
        '{"a": [1, 2.5], "b": null, "c": "\\u00e9"} 1.5 [\'3.5\', \'2\'] a b B 12 '
        "['a', 'b', 'c']\n",
    ),
    Cell(
        "sorting-with-keys",
        "import operator\nobjs = [('chair', 2.5), ('table', 1.2), ('lamp', 3.1), ('box', 1.2)]\n"
        "print(sorted(objs, key=lambda t: (t[1], t[0])), max(objs, "
        "key=operator.itemgetter(1))[0], "
        "sorted(objs, key=lambda t: -t[1])[:2], min(objs, key=lambda t: abs(t[1] - "
        "2))[0])\nobjs.sort(key=operator.itemgetter(0), reverse=True)\nprint(objs[0])",
        "[('box', 1.2), ('table', 1.2), ('chair', 2.5), ('lamp', 3.1)] lamp [('lamp', "
        "3.1), ('chair', 2.5)] chair\n('table', 1.2)\n",
    ),
    Cell(
        "random-with-seed",
        "import random\nrandom.seed(0)\na = [random.random() for _ in range(3)]\n"
        "random.seed(0)\nb = [random.random() for _ in range(3)]\n"
        "rng = np.random.default_rng(42)\nx = rng.normal(size=3)\n"
        "y = np.random.default_rng(42).normal(size=3)\n"
        "random.seed(1)\nsample = random.sample(range(10), 3)\nrandom.seed(1)\n"
        "print(a == b, bool((x == y).all()), sample == random.sample(range(10), 3), "
        "len(set(sample)), 0 <= random.randint(0, 5) <= 5)",
        "True True True 3 True\n",
    ),
    Cell(
        "string-methods",
        "s = '  The Red Chair  '\n"
        "print(s.strip().lower().split(), s.replace('Red', 'blue').strip(), 'chair' in "
        "s.lower(), '-'.join(['a', 'b']), s.strip().title(), "
        "'abc'.upper().center(7, '*'), 'x'.zfill(3), 'a-b'.partition('-'), 'A. "
        "left'.startswith('A'), 'img_01.png'.rsplit('.', 1)[0], "
        "'ünïcödé ✓'.upper())",
        "['the', 'red', 'chair'] The blue Chair True a-b The Red Chair **ABC** 00x "
        "('a', '-', 'b') True img_01 ÜNÏCÖDÉ ✓\n",
    ),
    Cell(
        "small-stdlib",
        "import copy, heapq, bisect, datetime, pprint, textwrap, colorsys\n"
        "from fractions import Fraction\nfrom decimal import Decimal\n"
        "h = [5, 1, 3]\nheapq.heapify(h)\norig = {'a': [1]}\n"
        "deep = copy.deepcopy(orig)\ndeep['a'].append(2)\n"
        "print(heapq.heappop(h), heapq.nsmallest(2, [4, 2, 8]), bisect.bisect_left([1, "
        "3, 5], 4), orig, Fraction(1, 3) + Fraction(1, 6), "
        "Decimal('0.1') + Decimal('0.2'), datetime.timedelta(seconds=90), "
        "textwrap.shorten('hello world again', 11), colorsys.rgb_to_hsv(1, 0, 0))\n"
        "pprint.pprint({'b': 1, 'a': 2})",
        "1 [2, 4] 2 {'a': [1]} 1/2 0.3 0:01:30 hello [...] (0.0, 1.0, 1)\n{'a': 2, 'b': 1}\n",
    ),
    Cell(
        "time-measurement",
        "import time\nfrom time import perf_counter\nt0 = perf_counter()\n"
        "time.sleep(0.01)\nprint(perf_counter() - t0 >= 0.01, time.time() > 1e9)",
        "True True\n",
    ),
    Cell(
        "cv2-from-import",
        "from cv2 import cvtColor, COLOR_RGB2GRAY, GaussianBlur\n"
        "print(GaussianBlur(cvtColor(InputImages[0], COLOR_RGB2GRAY), (3, 3), 0).shape)",
        "(48, 64)\n",
    ),
    Cell(
        "warnings-are-captured",
        "import warnings\nwarnings.warn('check the scale')\n"
        "print(np.array([1.0]) / 0, np.log(-1.0), np.nanmean([np.nan]))",
        "[inf] nan nan\n",
        warnings=(
            "UserWarning: check the scale",
            "RuntimeWarning: divide by zero encountered in divide",
            "RuntimeWarning: invalid value encountered in log",
            "RuntimeWarning: Mean of empty slice",
        ),
    ),
    Cell(
        "warnings-filtered-in-the-cell",
        "import warnings\nwarnings.filterwarnings('ignore', category=RuntimeWarning)\n"
        "print(np.log(-1.0))",
        "nan\n",
    ),
    Cell(
        "large-print-is-capped",
        "for i in range(100000):\n    print(i)",
        "".join(f"{i}\n" for i in range(100000))[:2000]
        + f"\n... [{len(''.join(f'{i}' + chr(10) for i in range(100000))) - 4000} "
        "characters cut] ...\n" + "".join(f"{i}\n" for i in range(100000))[-2000:],
    ),
    Cell(
        "nan-and-inf",
        "v = np.array([np.nan, np.inf, -np.inf, 1.0])\n"
        "print(v, np.isfinite(v).sum(), np.nanmax(v), float('nan') == float('nan'), "
        "np.nan_to_num(v, posinf=9, neginf=-9), math.isnan(v[0]))",
        "[ nan  inf -inf   1.] 1 inf False [ 0.  9. -9.  1.] True\n",
    ),
    Cell(
        "frames-as-arrays",
        "f = InputImages[1]\nred = (f[..., 0] > 200) & (f[..., 1] < 50)\n"
        "ys, xs = np.nonzero(red)\n"
        "print(f.frame_index, f.timestamp, f.shape, int(red.sum()), xs.min(), ys.min(), "
        "f.mean(axis=(0, 1)).round(1), type(f[0:2]).__name__)",
        "10 100.5 (48, 64, 3) 160 20 10 [58.9 49.  49. ] InputImage\n",
    ),
    Cell(
        "tools-reconstruct-and-segment",
        "r = tools.Reconstruct(InputImages)\n"
        "seg = tools.SAM3.segment(InputImages[0], text='red box')\nm = seg.masks[0]\n"
        "pts = r.points_of(m, InputImages[0].frame_index)\n"
        "box = r.box_3d(m, InputImages[0].frame_index)\n"
        "print(r.depth.shape, pts.shape, np.round(np.median(pts[:, 2]), 3), box.label, "
        "np.round(box.center, 2) + 0.0)",
        "(4, 48, 64) (160, 3) 1.0 red box [-0.08 -0.18  1.  ]\n",
    ),
    Cell(
        "tools-geometry-time-mask",
        "d = tools.Geometry.distance([0, 0, 0], [1, 2, 2])\n"
        "ang = tools.Geometry.angle_between([1, 0, 0], [0, 1, 0])\n"
        "mask = np.zeros((48, 64), bool)\nmask[10:20, 20:36] = True\n"
        "print(d, ang, tools.Time.duration(), tools.Time.frame_to_seconds(20), "
        "tools.Time.frame_at(0.6).frame_index, "
        "tools.Mask.area(mask), tools.Mask.bbox(mask), tools.Mask.centroid(mask))",
        "3.0 90.0 1.5 1.0 10 160 (20, 10, 35, 19) (27.5, 14.5)\n",
    ),
    Cell(
        "tools-draw-and-show",
        "img = tools.Draw.box(InputImages[0], (20, 10, 35, 19), label='red box')\n"
        "img = tools.Draw.points(img, [[5, 5]])\n"
        "print(img.shape, img.dtype, InputImages[0].flags.writeable)\nshow(img, InputImages[2])",
        "(48, 64, 3) uint8 False\n",
        images=((48, 64, 3), (48, 64, 3)),
    ),
    Cell(
        "vlm-locate-and-ask",
        "pts = vlm.locate(InputImages[0], 'the red box')\n"
        "x, y = tools.Geometry.normalized_to_pixel(pts, 64, 48)[0]\n"
        "print(len(pts), round(float(x)), round(float(y)), vlm.ask(InputImages[0], 'how "
        "bright?').split()[0])",
        "1 20 10 mean\n",
    ),
    Cell(
        "show-arrays-of-every-kind",
        "show(np.random.default_rng(0).random((20, 30)), np.zeros((5, 6, 4), np.uint8), "
        "np.linspace(0, 9, 12).reshape(3, 4), "
        "np.ones((2, 2), bool), np.zeros((3, 3, 1), np.uint8))",
        "",
        images=((20, 30, 3), (5, 6, 3), (3, 4, 3), (2, 2, 3), (3, 3, 3)),
    ),
]


@pytest.fixture(scope="module")
def kernel():
    with Kernel(
        make_frames(),
        perception=SensorPerception(),
        vlm=BrightestSpotVLM(),
        options=["A. left", "B. right"],
    ) as k:
        yield k


@pytest.mark.parametrize("cell", [pytest.param(c, id=c.id) for c in CELLS])
def test_ordinary_cell_runs_like_a_notebook(kernel, cell):
    result = kernel.run(cell.code)
    assert (result.status, result.error) == ("success", None), result.feedback
    assert result.stdout == cell.stdout
    assert [i.shape for i in result.images] == list(cell.images)
    assert result.warnings == list(cell.warnings)
    assert not result.restarted


def test_the_corpus_is_large_enough():
    assert len(CELLS) >= 40 and len({c.id for c in CELLS}) == len(CELLS)


def test_state_lives_across_cells_until_deleted(kernel):
    first = kernel.run(
        "visits = 0\ndef visit():\n    global visits\n    visits += 1\n"
        "    return visits\nvisit()\nvisit()"
    )
    assert first.stdout == "2\n" and first.variables["visits"] == "2"
    second = kernel.run("print(visit(), visits)\ndel visits")
    assert second.stdout == "3 3\n"
    third = kernel.run("print('visits' in dir(), 'visit' in dir())")
    assert third.stdout == "False True\n"
    # the error points at this cell's line: visit() itself was written in an earlier step
    assert (
        kernel.run("visit()").error
        == "Error on line 1: visit()\nNameError: name 'visits' is not defined"
    )
