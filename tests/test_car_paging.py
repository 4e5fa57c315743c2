"""GET /api/cars at any depth: cursor paging (Link rel="next"), the streamed whole list, relevance."""

from __future__ import annotations

import datetime as dt
import gzip
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from cms.services import cars as cars_service

SORTS = ("newest", "oldest", "price_asc", "price_desc", "year_asc", "year_desc")
NEXT_LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


@pytest.fixture
def showroom(factory):
    """Nine cars with ties in price, year and creation time, and cars without a year."""
    seller = factory.user("seller")
    start = dt.datetime(2024, 1, 1)
    specs = [  # (price, year, days after start)
        (20000, 2019, 0), (15000, None, 1), (20000, 2019, 1), (9000, 2022, 2), (20000, None, 3),
        (15000, 2015, 3), (30000, 2022, 4), (9000, 2019, 5), (12000, None, 5),
    ]
    return [factory.car(seller, price=price, year=year, title=f"Car {n}", created_at=start + dt.timedelta(days=days))
            for n, (price, year, days) in enumerate(specs)]


def next_path(response) -> str | None:
    """The path and query of the response's Link rel="next", or None."""
    link = response.headers.get("Link")
    if link is None:
        return None
    match = NEXT_LINK.match(link)
    assert match, f"not a Link rel=next header: {link!r}"
    parts = urlsplit(match["url"])
    assert parts.scheme in ("http", "https") and parts.netloc, "the Link URL is absolute"
    return f"{parts.path}?{parts.query}"


def follow(client, path: str) -> tuple[list[int], int]:
    """Every car id reached by following Link rel="next" from `path`, and the number of pages."""
    ids, pages = [], 0
    while path is not None:
        response = client.get(path)
        assert response.status_code == 200, response.get_json()
        ids += [car["id"] for car in response.get_json()]
        pages += 1
        path = next_path(response)
        assert pages < 50, "the links never end"
    return ids, pages


@pytest.mark.parametrize("sort", SORTS)
def test_following_the_links_walks_every_car_once_in_the_order_of_the_whole_list(client, showroom, sort):
    whole = [car["id"] for car in client.get(f"/api/cars?sort={sort}").get_json()]

    walked, pages = follow(client, f"/api/cars?sort={sort}&limit=2")

    assert walked == whole
    assert sorted(walked) == sorted(car["id"] for car in showroom)
    assert pages == 5  # four full pages, the last with the ninth car and no Link


def test_sorts_break_ties_by_id_and_put_cars_without_a_year_last(client, showroom):
    ids = {car["id"]: n for n, car in enumerate(showroom)}

    def order(sort):
        return [ids[car["id"]] for car in client.get(f"/api/cars?sort={sort}").get_json()]

    assert order("price_asc") == [3, 7, 8, 1, 5, 0, 2, 4, 6]
    assert order("price_desc") == [6, 4, 2, 0, 5, 1, 8, 7, 3]
    assert order("year_asc") == [5, 0, 2, 7, 3, 6, 1, 4, 8]
    assert order("year_desc") == [6, 3, 7, 2, 0, 5, 8, 4, 1]


def test_a_page_reached_with_offset_links_to_the_page_after_it(client, showroom):
    response = client.get("/api/cars?sort=price_asc&limit=3&offset=3")
    rest, _ = follow(client, next_path(response))

    whole = [car["id"] for car in client.get("/api/cars?sort=price_asc").get_json()]
    assert [car["id"] for car in response.get_json()] + rest == whole[3:]
    assert "offset" not in parse_qs(urlsplit(next_path(response)).query)


def test_the_link_keeps_the_filters_sort_and_limit(client, factory):
    seller = factory.user("seller")
    for n in range(4):
        factory.car(seller, brand="Aura", title=f"Electric {n}")
    factory.car(seller, brand="Other", title="Electric other")

    response = client.get("/api/cars?brand=aura&q=electric&sort=oldest&limit=3&unknown=kept")
    query = parse_qs(urlsplit(next_path(response)).query)

    assert {key: values for key, values in query.items() if key != "cursor"} == {
        "brand": ["aura"], "q": ["electric"], "sort": ["oldest"], "limit": ["3"], "unknown": ["kept"],
    }
    second = client.get(next_path(response))
    assert [car["brand"] for car in second.get_json()] == ["Aura"]
    assert "Link" not in second.headers


def test_the_body_stays_an_array_and_the_count_counts_every_match(client, showroom):
    response = client.get("/api/cars?limit=4")
    following = client.get(next_path(response))

    assert isinstance(following.get_json(), list) and len(following.get_json()) == 4
    assert response.headers["X-Total-Count"] == following.headers["X-Total-Count"] == "9"


def cursor_of(response) -> str:
    return parse_qs(urlsplit(next_path(response)).query)["cursor"][0]


@pytest.mark.parametrize("change", ["payload", "signature", "garbage", "empty", "dots"])
def test_a_changed_or_made_up_cursor_is_a_400(client, showroom, change):
    cursor = cursor_of(client.get("/api/cars?limit=2"))
    payload, signature = cursor.split(".")
    bad = {
        "payload": f"{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}",
        "signature": f"{payload}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        "garbage": "not-a-cursor",
        "empty": ".",
        "dots": f"{payload}.{signature}.x",
    }[change]

    response = client.get("/api/cars", query_string={"limit": 2, "cursor": bad})

    assert response.status_code == 400
    assert response.get_json()["error"].startswith("Invalid cursor")


@pytest.mark.parametrize("other", ["sort=price_asc&limit=2", "brand=Brand&limit=2", "limit=2&offset=2", "limit="])
def test_a_cursor_is_only_valid_for_its_own_list(client, showroom, other):
    cursor = cursor_of(client.get("/api/cars?limit=2"))

    response = client.get(f"/api/cars?{other}&cursor={cursor}")

    assert response.status_code == 400
    assert set(response.get_json()) <= {"error", "details"}


def test_a_cursor_signed_with_another_secret_is_a_400(client, make_app, showroom):
    cursor = cursor_of(make_app(jwt_secret="another-secret-" + "y" * 40).test_client().get("/api/cars?limit=2"))

    response = client.get(f"/api/cars?limit=2&cursor={cursor}")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("Invalid cursor")


def test_a_value_signed_with_the_same_secret_for_another_purpose_is_not_a_cursor(client, app, showroom):
    """The cursor key is derived for cursors alone (itsdangerous' salt)."""
    from itsdangerous import URLSafeSerializer

    from cms.services.cars import list_filters
    from cms.services.cursors import filters_digest

    secret = app.config["CMS_SETTINGS"].jwt_secret
    document = ["newest", None, 1, filters_digest(list_filters({}))]
    other_purpose = URLSafeSerializer(secret, salt="something-else").dumps(document)

    response = client.get("/api/cars", query_string={"limit": 2, "cursor": other_purpose})
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("Invalid cursor")


def test_a_full_last_page_links_to_an_empty_page(client, factory):
    seller = factory.user("seller")
    for _ in range(2):
        factory.car(seller)

    response = client.get(next_path(client.get("/api/cars?limit=2")))

    assert response.status_code == 200 and response.get_json() == []
    assert "Link" not in response.headers


# --- the whole list, streamed ----------------------------------------------------------

def test_the_whole_list_is_streamed_in_batches_as_one_array(client, showroom, monkeypatch):
    whole = client.get("/api/cars?sort=year_desc").get_json()
    monkeypatch.setattr(cars_service, "STREAM_BATCH_ROWS", 2)

    response = client.get("/api/cars?sort=year_desc")

    assert response.is_streamed
    assert response.get_json() == whole
    assert response.headers["X-Total-Count"] == "9"
    assert [car["id"] for car in client.get("/api/cars?sort=year_desc&offset=3").get_json()] == \
        [car["id"] for car in whole[3:]]


def test_the_streamed_list_is_gzip_compressed_when_accepted(client, showroom, monkeypatch):
    monkeypatch.setattr(cars_service, "STREAM_BATCH_ROWS", 4)
    plain = client.get("/api/cars").get_data()

    response = client.get("/api/cars", headers={"Accept-Encoding": "gzip"})

    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert gzip.decompress(response.get_data()) == plain


def test_an_empty_streamed_list_is_an_empty_array(client):
    response = client.get("/api/cars?brand=nothing")

    assert response.get_json() == []
    assert response.headers["X-Total-Count"] == "0"


def test_the_streamed_list_returns_its_connection_to_the_pool(app, client, showroom, monkeypatch):
    monkeypatch.setattr(cars_service, "STREAM_BATCH_ROWS", 2)
    pool = app.extensions["cms.pool"]
    for _ in range(pool.max_size + 2):
        response = client.get("/api/cars")
        assert len(response.get_json()) == 9
        response.close()

    assert pool.get_stats().get("requests_waiting", 0) == 0
    assert client.get("/api/cars?limit=1").status_code == 200


# --- relevance ranks every match ----------------------------------------------------------

def test_relevance_puts_the_best_match_first_however_old(client, factory):
    seller = factory.user("seller")
    start = dt.datetime(2020, 1, 1)
    best = factory.car(seller, title="Zephyrine Zephyrine tourer", description="Zephyrine. Zephyrine, zephyrine.",
                       created_at=start)
    once = [factory.car(seller, title=f"Sedan {n}", description="Comes with a zephyrine kit",
                        created_at=start + dt.timedelta(days=1 + n)) for n in range(60)]
    brand_only = factory.car(seller, title="Plain wagon", brand="Zephyrine", description="Fast",
                             created_at=start + dt.timedelta(days=100))

    first = client.get("/api/cars?q=zephyrine&sort=relevance&limit=5")
    walked, _ = follow(client, "/api/cars?q=zephyrine&sort=relevance&limit=7")

    # Title beats brand beats description; one description each: ties, higher id first.
    expected = [best["id"], brand_only["id"], *(car["id"] for car in reversed(once))]
    assert [car["id"] for car in first.get_json()] == expected[:5]
    assert first.headers["X-Total-Count"] == "5"  # with q, counted up to the end of the page
    assert first.headers["X-Total-Count-Capped"] == "true"
    assert walked == expected


RANKING_TERMS = ("zephyrine", "zephyr", "zeph", "zephyrus", "kit", "tourer", "zephyrine tourer", "zephyr kit")


@pytest.fixture
def ranked_showroom(factory, sql):
    """3,000 cars where a few say zephyr-words: once in the description (the lowest rank),
    twice, in the title or brand, or two words of one prefix; spread so that the newest
    2,000 cars hold too few of the lowest-rank matches to fill a page."""
    seller = factory.user("seller")
    sql.execute(
        """
        INSERT INTO cars (title, price, description, seller_id, status, brand, model, year, fuel_type)
        SELECT
            CASE WHEN n %% 1300 = 0 THEN 'Zephyrine tourer' ELSE 'Car ' || n END,
            10000 + n,
            concat_ws(' ', 'A fine car',
                CASE WHEN n %% 500 = 0 THEN 'with a zephyrine kit' END,
                CASE WHEN n %% 997 = 0 THEN 'zephyrine, zephyrine' END,
                CASE WHEN n %% 1201 = 0 THEN 'zephyr and zephyrus' END,
                CASE WHEN n %% 450 = 0 THEN 'zephyrus' END,
                CASE WHEN n %% 100 = 0 THEN 'tourer' END),
            %(seller)s, 'available',
            CASE WHEN n = 7 THEN 'Zephyr' ELSE 'Brand' END, 'Model', 2020, 'Gasoline'
        FROM generate_series(1, 3000) AS n
        """,
        {"seller": seller["id"]},
    )


def ranked_by_the_database(sql, q: str, max_price: int | None = None) -> list[int]:
    """Every match of q (up to max_price), ranked in full: ts_rank of the stored document, higher
    id first on ties."""
    rows = sql.execute(
        "SELECT id FROM cars WHERE search_document @@ car_search_query(%(q)s)"
        " AND (%(max_price)s::numeric IS NULL OR price <= %(max_price)s::numeric)"
        " ORDER BY ts_rank(search_document, car_search_query(%(q)s)) DESC, id DESC",
        {"q": q, "max_price": max_price},
    ).fetchall()
    return [row["id"] for row in rows]


@pytest.mark.parametrize("q", RANKING_TERMS)
def test_relevance_pages_follow_the_full_ranking_of_every_match(client, ranked_showroom, sql, q):
    expected = ranked_by_the_database(sql, q)
    assert len(expected) >= 3, "the showroom has matches for every term"

    walked, _ = follow(client, f"/api/cars?q={q}&sort=relevance&limit=4")
    by_offset = client.get(f"/api/cars?q={q}&sort=relevance&limit=5&offset=3").get_json()

    assert walked == expected
    assert [car["id"] for car in by_offset] == expected[3:8]


@pytest.mark.parametrize("q", ("z", "zephyri", "zephyr", "zephyrus", "kit", "tourer", "fine", "car", "brand"))
def test_a_cars_ranked_words_match_a_word_when_it_ranks_above_the_lowest_rank_its_description_words_when_lowest(
        ranked_showroom, sql, q):
    """car_search_ranked_words matches q exactly when the car ranks above the lowest rank;
    car_search_description_words (less the ranked words) exactly when it ranks lowest."""
    row = sql.execute(
        """
        SELECT
            count(*) FILTER (WHERE search_document @@ query) AS matches,
            count(*) FILTER (WHERE
                (car_search_ranked_words(search_document) @@ query)
                IS DISTINCT FROM (
                    search_document @@ query AND ts_rank(search_document, query) > car_search_lowest_rank()
                )
            ) AS disagreements,
            count(*) FILTER (WHERE
                (
                    search_document @@ query AND car_search_description_words(search_document) @@ query
                    AND NOT car_search_ranked_words(search_document) @@ query
                )
                IS DISTINCT FROM (
                    search_document @@ query AND ts_rank(search_document, query) = car_search_lowest_rank()
                )
            ) AS lowest_disagreements
        FROM cars, car_search_query(%(q)s) AS query
        """,
        {"q": q},
    ).fetchone()

    assert row["matches"] > 0
    assert row["disagreements"] == 0
    assert row["lowest_disagreements"] == 0


@pytest.mark.parametrize("q", ("zephyrine", "zeph", "zephyr kit"))
def test_relevance_pages_with_another_filter_follow_the_full_ranking_of_its_matches(client, ranked_showroom, sql, q):
    expected = ranked_by_the_database(sql, q, max_price=12000)
    assert len(expected) >= 3, "the showroom has matches below the price for every term"

    walked, _ = follow(client, f"/api/cars?q={q}&maxPrice=12000&sort=relevance&limit=3")

    assert walked == expected
