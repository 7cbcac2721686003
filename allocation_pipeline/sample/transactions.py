"""The sample company's GL documents and AP invoice lines of one entity and month, each document balanced."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa

from allocation_pipeline.sample.company import (
    ACCOUNT_BANK,
    ACCOUNT_CLOUD_HOSTING,
    ACCOUNT_EMPLOYEE_PAYABLE,
    ACCOUNT_PAYABLE,
    ACCOUNT_PAYROLL_TAXES_PAYABLE,
    ACCOUNT_PENSION_BENEFITS,
    ACCOUNT_RECEIVABLE,
    ACCOUNT_RENT,
    ACCOUNT_REVENUE,
    ACCOUNT_SALARIES,
    ACCOUNT_SALARIES_PAYABLE,
    ACCOUNT_SERVICES_REVENUE,
    ACCOUNT_SOCIAL_SECURITY,
    ACCOUNT_SOFTWARE,
    ACCOUNT_TRAVEL,
    ACCOUNT_UTILITIES,
    BALANCE_SHEET_COST_CENTER,
    CLOUD_COST_CENTER,
    CORPORATE_IT_ACCOUNT,
    CORPORATE_IT_COST_CENTER,
    CORPORATE_IT_DOCUMENT_PREFIX,
    COST_CENTER_IDS,
    ENTITY_CURRENCY,
    ENTITY_EE,
    FACILITIES_COST_CENTERS,
    IT_POOL_ACCOUNT,
    IT_POOL_CENTS,
    IT_POOL_COST_CENTER,
    IT_POOL_DOCUMENT_TYPE,
    PRODUCTS,
    PRODUCT_IDS,
    REGION_IDS,
    RESERVED_INVOICE_IDS,
    SLACK_INVOICE_CENTS,
    SLACK_INVOICE_COST_CENTER,
    SLACK_INVOICE_ID,
    SLACK_VENDOR,
    SPLIT_INVOICE_ID,
    SPLIT_INVOICE_LINES,
    SPLIT_INVOICE_VENDOR,
    corporate_it_month_cents,
    format_period,
    it_pool_document_id,
    month_days,
)
from allocation_pipeline.sample.drivers import Drivers
from allocation_pipeline.sample.files import AP_SCHEMA, GL_SCHEMA, cents_text, numbered_ids, take_nullable
from allocation_pipeline.sample.profiles import (
    ACCOUNT_IDS,
    ACCOUNT_INDEX,
    AMOUNT_FACTOR,
    AP_BODY,
    AR_BODY,
    BENEFITS_RATE,
    CATEGORIES,
    CC_INDEX,
    CLOUD_VENDOR,
    DOC_TYPE_ORDER,
    EXP_BODY,
    LANDLORD,
    PRODUCT_INDEX,
    PRODUCT_MIX,
    REGION_INDEX,
    REGION_MIX,
    RENT_CENTS,
    REVENUE_SEASON,
    SALARY,
    SOCIAL_RATE,
    UTILITIES_CENTS,
    UTILITIES_SEASON,
    UTILITY,
    VENDORS,
    VENDOR_INDEX,
    VENDOR_NAMES,
    lognormal_cents,
)


class _Ledger:
    """Line-level columns of one entity's GL for one month, appended to by document families."""

    def __init__(self, entity: str, ordinal: int) -> None:
        self.entity = entity
        self.days = month_days(ordinal)
        self.doc_ids: list[pa.Array] = []
        self.n_docs = 0
        self.texts: dict[str, int] = {}
        self.cols: dict[str, list[np.ndarray]] = {
            k: [] for k in ("doc", "seq", "type", "line", "day", "account", "cc", "product", "region", "debit", "credit", "text")
        }

    def text(self, value: str) -> int:
        return self.texts.setdefault(value, len(self.texts))

    def add(self, doc_type: str, doc_ids: pa.Array, doc_seq: np.ndarray, doc_day: np.ndarray, lines: dict[str, np.ndarray]) -> None:
        """Append documents: `lines` holds per-line arrays incl. 'doc' (0-based within this call)."""
        doc = lines["doc"]
        self.cols["doc"].append(doc + self.n_docs)
        self.cols["seq"].append(doc_seq[doc])
        self.cols["type"].append(np.full(doc.size, DOC_TYPE_ORDER.index(doc_type), dtype=np.int8))
        self.cols["day"].append(doc_day[doc])
        for key in ("line", "account", "cc", "product", "region", "debit", "credit", "text"):
            self.cols[key].append(lines[key])
        self.doc_ids.append(doc_ids)
        self.n_docs += len(doc_ids)

    def table(self) -> pa.Table:
        col = {k: np.concatenate(v) for k, v in self.cols.items()}
        order = np.lexsort((col["line"], col["doc"], col["seq"], col["type"], col["day"]))
        col = {k: v[order] for k, v in col.items()}
        doc_ids = pa.concat_arrays(self.doc_ids)
        texts = pa.array(sorted(self.texts, key=self.texts.get), pa.string())
        day_text = pa.array(self.days.astype(str).tolist(), pa.string())
        return pa.table(
            {
                "entity": pa.array(np.full(order.size, self.entity)),
                "document_id": doc_ids.take(col["doc"]),
                "document_type": pa.array(DOC_TYPE_ORDER, pa.string()).take(col["type"]),
                "line": pa.array(col["line"], pa.int64()),
                "posting_date": day_text.take(col["day"]),
                "account": pa.array(ACCOUNT_IDS, pa.string()).take(col["account"]),
                "cost_center": pa.array(COST_CENTER_IDS, pa.string()).take(col["cc"]),
                "product": take_nullable(PRODUCT_IDS, col["product"]),
                "region": take_nullable(REGION_IDS, col["region"]),
                "debit": cents_text(col["debit"]),
                "credit": cents_text(col["credit"]),
                "currency": pa.array(np.full(order.size, ENTITY_CURRENCY[self.entity])),
                "description": texts.take(col["text"]),
            },
            schema=GL_SCHEMA,
        )


def _body_counts(rng: np.random.Generator, target_lines: int, sizes: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Body lines per document so that sum(body + 1) hits `target_lines` (exactly when possible)."""
    if target_lines < 2:
        return np.zeros(0, dtype=np.int64)
    values, probs = sizes
    draws = values[rng.choice(values.size, size=target_lines // 2 + 1, p=probs)].astype(np.int64)
    total = np.cumsum(draws + 1)
    n = int(np.searchsorted(total, target_lines)) + 1
    body = draws[:n].copy()
    over = int(total[n - 1]) - target_lines
    if over > 0 and body[-1] - over >= 1:
        body[-1] -= over
    return body


class _Family(NamedTuple):
    """Per-document and per-body-line arrays of one family of 'body lines + one balancing line'."""

    body: np.ndarray  # body lines per document
    account: np.ndarray  # per body line, account index
    cc: np.ndarray
    product: np.ndarray
    region: np.ndarray
    cents: np.ndarray
    text: np.ndarray


def _assemble(fam: _Family, body_side: str, balance_account: str, balance_cc: str, balance_text: int) -> dict[str, np.ndarray]:
    n = fam.body.size
    lines_per_doc = fam.body + 1
    total = int(lines_per_doc.sum())
    starts = np.cumsum(lines_per_doc) - lines_per_doc
    doc = np.repeat(np.arange(n), lines_per_doc)
    line = np.arange(total) - np.repeat(starts, lines_per_doc) + 1
    balance = line == np.repeat(lines_per_doc, lines_per_doc)
    body = ~balance

    def spread(values: np.ndarray, fill: int) -> np.ndarray:
        out = np.full(total, fill, dtype=np.int64)
        out[body] = values
        return out

    body_starts = np.cumsum(fam.body) - fam.body
    doc_total = np.add.reduceat(fam.cents, body_starts) if n else np.zeros(0, np.int64)
    amounts = spread(fam.cents, 0)
    amounts[balance] = doc_total
    zero = np.zeros(total, dtype=np.int64)
    body_debit = body_side == "debit"
    debit = np.where(body == body_debit, amounts, zero)
    credit = np.where(body == body_debit, zero, amounts)
    return {
        "doc": doc,
        "line": line,
        "account": spread(fam.account, ACCOUNT_INDEX[balance_account]),
        "cc": spread(fam.cc, CC_INDEX[balance_cc]),
        "product": spread(fam.product, -1),
        "region": spread(fam.region, -1),
        "debit": debit,
        "credit": credit,
        "text": spread(fam.text, balance_text),
    }


def _sample_index(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(p.size, size=size, p=p / p.sum())


class EntityMonth:
    """Generates one entity's GL, AP invoice lines and revenue for one month."""

    def __init__(self, entity: str, ordinal: int, drivers: Drivers, rng: np.random.Generator, counters: dict) -> None:
        self.entity = entity
        self.ordinal = ordinal
        self.rng = rng
        self.counters = counters
        self.ledger = _Ledger(entity, ordinal)
        self.period = format_period(ordinal)
        self.factor = AMOUNT_FACTOR[entity]
        mine = [i for i, c in enumerate(drivers.centers) if c.entity == entity]
        self.centers = [drivers.centers[i] for i in mine]
        self.cc_idx = np.array([CC_INDEX[c.cost_center] for c in self.centers])
        self.headcount = drivers.headcount[mine]
        self.cloud_cents = int(drivers.cloud_cents[mine].sum())
        self.bs_cc = BALANCE_SHEET_COST_CENTER[entity]
        days = self.ledger.days
        self.business_days = np.flatnonzero(np.is_busday(days))
        self.ap_parts: list[tuple] = []

    # -- helpers

    def _numbers(self, family: str, n: int, reserved: tuple[int, ...] = ()) -> np.ndarray:
        start = self.counters.get((self.entity, family), 1)
        candidates = np.arange(start, start + n + len(reserved), dtype=np.int64)
        if reserved:
            candidates = candidates[~np.isin(candidates, reserved)]
        numbers = candidates[:n]
        self.counters[(self.entity, family)] = int(numbers[-1]) + 1 if n else start
        return numbers

    def _random_days(self, n: int) -> np.ndarray:
        return np.sort(self.business_days[self.rng.integers(0, self.business_days.size, n)])

    def _cc_weights(self, affinity: dict, default: float, only: tuple[str, ...] = ()) -> np.ndarray:
        w = self.headcount * np.array([affinity.get(c.role, default) for c in self.centers])
        if only:
            w = w * np.array([c.cost_center in only for c in self.centers])
        return w

    # -- fixed monthly documents

    def payroll(self) -> int:
        n = len(self.centers)
        salary = np.array([SALARY[self.entity][c.role] for c in self.centers], dtype=np.float64)
        salaries = np.rint(self.headcount * salary * (1.0 + 0.02 * self.rng.standard_normal(n)) * 100).astype(np.int64)
        social = np.rint(salaries * SOCIAL_RATE[self.entity]).astype(np.int64)
        benefits = np.rint(salaries * BENEFITS_RATE[self.entity]).astype(np.int64)
        led = self.ledger
        account = np.concatenate(
            [np.full(n, ACCOUNT_INDEX[a]) for a in (ACCOUNT_SALARIES, ACCOUNT_SOCIAL_SECURITY, ACCOUNT_PENSION_BENEFITS)]
            + [np.array([ACCOUNT_INDEX[ACCOUNT_SALARIES_PAYABLE], ACCOUNT_INDEX[ACCOUNT_PAYROLL_TAXES_PAYABLE]])]
        )
        # Order: per cost center its three lines, then the two liabilities.
        per_cc = np.arange(3 * n).reshape(3, n).T.ravel()
        order = np.concatenate([per_cc, [3 * n, 3 * n + 1]])
        debit = np.concatenate([salaries, social, benefits, [0, 0]])[order]
        credit = np.concatenate([np.zeros(3 * n, np.int64), [salaries.sum(), social.sum() + benefits.sum()]])[order]
        texts = [led.text("Salaries"), led.text("Social security contributions"), led.text("Pension and benefits")]
        text = np.concatenate([np.full(n, t) for t in texts] + [np.array([led.text("Net salaries payable"), led.text("Payroll taxes payable")])])
        cc = np.concatenate([self.cc_idx, self.cc_idx, self.cc_idx, np.full(2, CC_INDEX[self.bs_cc])])
        total = 3 * n + 2
        lines = {
            "doc": np.zeros(total, np.int64),
            "line": np.arange(1, total + 1),
            "account": account[order],
            "cc": cc[order],
            "product": np.full(total, -1),
            "region": np.full(total, -1),
            "debit": debit,
            "credit": credit,
            "text": text[order],
        }
        doc_id = pa.array([f"{self.entity}-PAYROLL-{self.period.replace('-', '')}"])
        led.add("PAYROLL", doc_id, np.zeros(1, np.int64), np.array([len(led.days) - 1]), lines)
        return total

    def it_pool(self) -> int:
        led = self.ledger
        lines = {
            "doc": np.zeros(2, np.int64),
            "line": np.array([1, 2]),
            "account": np.array([ACCOUNT_INDEX[IT_POOL_ACCOUNT], ACCOUNT_INDEX[ACCOUNT_PAYABLE]]),
            "cc": np.array([CC_INDEX[IT_POOL_COST_CENTER], CC_INDEX[self.bs_cc]]),
            "product": np.full(2, -1),
            "region": np.full(2, -1),
            "debit": np.array([IT_POOL_CENTS, 0], np.int64),
            "credit": np.array([0, IT_POOL_CENTS], np.int64),
            "text": np.array([led.text("IT managed services (monthly fee)"), led.text("Accounts payable")]),
        }
        led.add(IT_POOL_DOCUMENT_TYPE, pa.array([it_pool_document_id(self.period)]), np.zeros(1, np.int64), np.array([len(led.days) - 1]), lines)
        return 2

    def corporate_it_pool(self) -> int:
        """Seed 000's corporate IT journal of the month on (64200, US-IT); draws nothing at random."""
        led = self.ledger
        cents = corporate_it_month_cents(self.period)
        lines = {
            "doc": np.zeros(2, np.int64),
            "line": np.array([1, 2]),
            "account": np.array([ACCOUNT_INDEX[CORPORATE_IT_ACCOUNT], ACCOUNT_INDEX[ACCOUNT_PAYABLE]]),
            "cc": np.array([CC_INDEX[CORPORATE_IT_COST_CENTER], CC_INDEX[self.bs_cc]]),
            "product": np.full(2, -1),
            "region": np.full(2, -1),
            "debit": np.array([cents, 0], np.int64),
            "credit": np.array([0, cents], np.int64),
            "text": np.array([led.text("Corporate IT services (monthly share)"), led.text("Accounts payable")]),
        }
        doc_id = pa.array([CORPORATE_IT_DOCUMENT_PREFIX + self.period.replace("-", "")])
        led.add("JOURNAL", doc_id, np.zeros(1, np.int64), np.array([len(led.days) - 1]), lines)
        return 2

    def fixed_invoices(self, last_period: bool) -> list[tuple]:
        """(vendor, day, fixed id or None, [(account, cost center, cents, text)]) of the month's fixed bills."""
        month = self.ordinal % 12
        fac = FACILITIES_COST_CENTERS[self.entity]
        utilities = UTILITIES_CENTS[self.entity] * UTILITIES_SEASON[self.entity][month] * (1.0 + 0.04 * self.rng.standard_normal())
        electricity = int(round(utilities * 0.6))
        heating = int(round(utilities * 0.4))
        bills = [
            (LANDLORD[self.entity], 0, None, [(ACCOUNT_RENT, fac, RENT_CENTS[self.entity], "Office rent")]),
            (
                UTILITY[self.entity],
                9,
                None,
                [(ACCOUNT_UTILITIES, fac, electricity, "Electricity"), (ACCOUNT_UTILITIES, fac, heating, "Heating and water")],
            ),
            (CLOUD_VENDOR, 2, None, [(ACCOUNT_CLOUD_HOSTING, CLOUD_COST_CENTER[self.entity], self.cloud_cents, "Cloud hosting")]),
        ]
        if last_period and self.entity == ENTITY_EE:
            slack_line = (ACCOUNT_SOFTWARE, SLACK_INVOICE_COST_CENTER, SLACK_INVOICE_CENTS, "Slack Business+ subscription")
            bills.append((SLACK_VENDOR, 14, SLACK_INVOICE_ID, [slack_line]))
            bills.append(
                (
                    SPLIT_INVOICE_VENDOR,
                    14,
                    SPLIT_INVOICE_ID,
                    [(acc, cc, cents, "Office software" if acc == ACCOUNT_SOFTWARE else "Travel") for _, acc, cc, cents in SPLIT_INVOICE_LINES],
                )
            )
        return bills

    # -- variable families

    def ap_invoices(self, target_lines: int, fixed: list[tuple]) -> None:
        rng, led = self.rng, self.ledger
        body = _body_counts(rng, target_lines, AP_BODY)
        n_rand = body.size
        vendors = [i for i, (_, cat, ents) in enumerate(VENDORS) if cat is not None and self.entity in ents]
        cats = [VENDORS[i][1] for i in vendors]
        per_cat = {c: cats.count(c) for c in set(cats)}
        p = np.array([CATEGORIES[c].frequency / per_cat[c] for c in cats])
        vendor = np.array(vendors)[_sample_index(rng, p, n_rand)] if n_rand else np.zeros(0, np.int64)
        body_doc = np.repeat(np.arange(n_rand), body)
        line_vendor = vendor[body_doc]
        n_lines = int(body.sum())
        account = np.zeros(n_lines, np.int64)
        cc = np.zeros(n_lines, np.int64)
        cents = np.zeros(n_lines, np.int64)
        text = np.zeros(n_lines, np.int64)
        vendor_cat = np.array([VENDORS[v][1] or "" for v in range(len(VENDORS))])
        line_cat = vendor_cat[line_vendor]
        for name in sorted(per_cat):
            cat = CATEGORIES[name]
            mask = np.flatnonzero(line_cat == name)
            if not mask.size:
                continue
            account[mask] = ACCOUNT_INDEX[cat.account]
            if cat.secondary:
                second = rng.random(mask.size) < cat.secondary[1]
                account[mask[second]] = ACCOUNT_INDEX[cat.secondary[0]]
            cc[mask] = self.cc_idx[_sample_index(rng, self._cc_weights(cat.affinity, cat.default, cat.only), mask.size)]
            cents[mask] = lognormal_cents(rng, cat.median * self.factor, cat.sigma, mask.size)
        vendor_text = np.array([led.text(f"{v} {CATEGORIES[c].label}" if c else v) for v, c, _ in VENDORS])
        text[:] = vendor_text[line_vendor]
        day = self._random_days(n_rand)

        # Fixed bills go first; they are numbered with the rest in posting-date order.
        fx_vendor = np.array([VENDOR_INDEX[b[0]] for b in fixed], np.int64)
        fx_body = np.array([len(b[3]) for b in fixed], np.int64)
        fx_day = np.array([b[1] for b in fixed], np.int64)
        fx_lines = [line for b in fixed for line in b[3]]
        all_body = np.concatenate([fx_body, body])
        all_vendor = np.concatenate([fx_vendor, vendor])
        all_day = np.concatenate([fx_day, day])
        fam = _Family(
            all_body,
            np.concatenate([[ACCOUNT_INDEX[a] for a, _, _, _ in fx_lines], account]).astype(np.int64),
            np.concatenate([[CC_INDEX[c] for _, c, _, _ in fx_lines], cc]).astype(np.int64),
            np.full(all_body.sum(), -1),
            np.full(all_body.sum(), -1),
            np.concatenate([[m for _, _, m, _ in fx_lines], cents]).astype(np.int64),
            np.concatenate([[led.text(t) for _, _, _, t in fx_lines], text]).astype(np.int64),
        )
        preset = [b[2] for b in fixed]
        numbered = np.array([i for i in range(all_body.size) if i >= len(fixed) or preset[i] is None], np.int64)
        reserved = tuple(int(x[len(self.entity) + 5 :]) for x in RESERVED_INVOICE_IDS if x.startswith(f"{self.entity}-BILL"))
        seq = np.zeros(all_body.size, np.int64)
        order = numbered[np.argsort(all_day[numbered], kind="stable")]
        seq[order] = self._numbers("BILL", order.size, reserved)
        for i, doc_id in enumerate(preset):
            if doc_id is not None:
                seq[i] = int(doc_id[len(self.entity) + 5 :])
        doc_ids = numbered_ids(f"{self.entity}-BILL", seq, 6)
        lines = _assemble(fam, "debit", ACCOUNT_PAYABLE, self.bs_cc, led.text("Accounts payable"))
        led.add("AP_INVOICE", doc_ids, seq, all_day, lines)
        self.ap_parts.append((doc_ids, seq, all_day, all_vendor, fam))

    def ar_invoices(self, target_lines: int) -> None:
        rng, led = self.rng, self.ledger
        body = _body_counts(rng, target_lines, AR_BODY)
        n = body.size
        weights = np.array([c.revenue_weight for c in self.centers])
        doc_cc_local = _sample_index(rng, weights, n) if n else np.zeros(0, np.int64)
        regions = REGION_MIX[self.entity]
        region_ids = np.array([REGION_INDEX[r] for r in regions])
        doc_region = region_ids[_sample_index(rng, np.array(list(regions.values())), n)] if n else np.zeros(0, np.int64)
        body_doc = np.repeat(np.arange(n), body)
        line_cc_local = doc_cc_local[body_doc]
        product = np.zeros(body_doc.size, np.int64)
        for local in np.flatnonzero(weights > 0):
            mask = np.flatnonzero(line_cc_local == local)
            if mask.size:
                product[mask] = _sample_index(rng, np.array(PRODUCT_MIX[self.centers[local].cost_center]), mask.size)
        services = product == PRODUCT_INDEX["P-SRVC"]
        account = np.where(services, ACCOUNT_INDEX[ACCOUNT_SERVICES_REVENUE], ACCOUNT_INDEX[ACCOUNT_REVENUE])
        season = REVENUE_SEASON[self.ordinal % 12]
        cents = lognormal_cents(rng, 1500.0 * self.factor * season, 1.0, body_doc.size)
        product_text = np.array([led.text(f"Revenue {name}") for p, name, active in PRODUCTS if active])
        fam = _Family(body, account, self.cc_idx[line_cc_local], product, doc_region[body_doc], cents, product_text[product])
        day = self._random_days(n)
        seq = self._numbers("INV", n)
        doc_ids = numbered_ids(f"{self.entity}-INV", seq, 7)
        lines = _assemble(fam, "credit", ACCOUNT_RECEIVABLE, self.bs_cc, led.text("Accounts receivable"))
        led.add("AR_INVOICE", doc_ids, seq, day, lines)
        self.revenue_cc = np.bincount(line_cc_local, weights=cents, minlength=len(self.centers))
        self.revenue_product = np.bincount(product, weights=cents, minlength=len(PRODUCT_IDS))

    def expense_reports(self, target_lines: int) -> None:
        rng, led = self.rng, self.ledger
        body = _body_counts(rng, target_lines, EXP_BODY)
        n = body.size
        travel = CATEGORIES["travel"]
        doc_cc = self.cc_idx[_sample_index(rng, self._cc_weights(travel.affinity, 1.0), n)] if n else np.zeros(0, np.int64)
        kinds = (
            (ACCOUNT_TRAVEL, "Expense claim travel", 0.4),
            ("61100", "Expense claim meals", 0.3),
            ("61200", "Expense claim accommodation", 0.2),
            ("60100", "Expense claim phone", 0.1),
        )
        kind = _sample_index(rng, np.array([k[2] for k in kinds]), int(body.sum()))
        account = np.array([ACCOUNT_INDEX[k[0]] for k in kinds])[kind]
        texts = np.array([led.text(k[1]) for k in kinds])[kind]
        cents = lognormal_cents(rng, 55.0 * self.factor, 0.9, kind.size)
        body_doc = np.repeat(np.arange(n), body)
        fam = _Family(body, account, doc_cc[body_doc], np.full(kind.size, -1), np.full(kind.size, -1), cents, texts)
        seq = self._numbers("EXP", n)
        lines = _assemble(fam, "debit", ACCOUNT_EMPLOYEE_PAYABLE, self.bs_cc, led.text("Employee reimbursements payable"))
        led.add("EXPENSE", numbered_ids(f"{self.entity}-EXP", seq, 7), seq, self._random_days(n), lines)

    def bank(self, doc_type: str, target_lines: int) -> None:
        rng, led = self.rng, self.ledger
        n = max(target_lines // 2, 0)
        body = np.ones(n, np.int64)
        if doc_type == "PAYMENT":
            body_account, balance_account, prefix, median = ACCOUNT_PAYABLE, ACCOUNT_BANK, "PMT", 4000.0
            body_text, balance_text = "Supplier payment", "Bank"
        else:
            body_account, balance_account, prefix, median = ACCOUNT_BANK, ACCOUNT_RECEIVABLE, "RCT", 6000.0
            body_text, balance_text = "Customer receipt", "Accounts receivable"
        fam = _Family(
            body,
            np.full(n, ACCOUNT_INDEX[body_account]),
            np.full(n, CC_INDEX[self.bs_cc]),
            np.full(n, -1),
            np.full(n, -1),
            lognormal_cents(rng, median * self.factor, 1.0, n),
            np.full(n, led.text(body_text)),
        )
        seq = self._numbers(prefix, n)
        lines = _assemble(fam, "debit", balance_account, self.bs_cc, led.text(balance_text))
        led.add(doc_type, numbered_ids(f"{self.entity}-{prefix}", seq, 7), seq, self._random_days(n), lines)

    def ap_table(self) -> pa.Table:
        parts = []
        for doc_ids, seq, day, vendor, fam in self.ap_parts:
            body_doc = np.repeat(np.arange(fam.body.size), fam.body)
            starts = np.cumsum(fam.body) - fam.body
            line = np.arange(body_doc.size) - starts[body_doc] + 1
            order = np.lexsort((line, seq[body_doc], day[body_doc]))
            body_doc, line = body_doc[order], line[order]
            texts = pa.array(sorted(self.ledger.texts, key=self.ledger.texts.get), pa.string())
            parts.append(
                pa.table(
                    {
                        "entity": pa.array(np.full(order.size, self.entity)),
                        "document_id": doc_ids.take(body_doc),
                        "line": pa.array(line, pa.int64()),
                        "vendor": pa.array(VENDOR_NAMES, pa.string()).take(vendor[body_doc]),
                        "invoice_date": pa.array(self.ledger.days.astype(str).tolist(), pa.string()).take(day[body_doc]),
                        "account": pa.array(ACCOUNT_IDS, pa.string()).take(fam.account[order]),
                        "cost_center": pa.array(COST_CENTER_IDS, pa.string()).take(fam.cc[order]),
                        "amount": cents_text(fam.cents[order]),
                        "currency": pa.array(np.full(order.size, ENTITY_CURRENCY[self.entity])),
                        "description": texts.take(fam.text[order]),
                    },
                    schema=AP_SCHEMA,
                )
            )
        return pa.concat_tables(parts)
