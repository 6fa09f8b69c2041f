"""The brands file: each brand's stage taxonomy, timezone, currency, competitors and P&L model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cxpulse_scorer.domain.pnl import PnlModel, load_pnl_model


class BrandEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    taxonomy: str | None = None
    timezone: str | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    pnl_model: str | None = None
    competitors: list[str] | None = None


class BrandsDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: BrandEntry
    brands: dict[str, BrandEntry] = {}


@dataclass(frozen=True)
class Brand:
    slug: str
    taxonomy: str
    timezone: ZoneInfo
    currency: str
    competitors: tuple[str, ...]
    pnl: PnlModel
    configured: bool


class BrandsFileInvalid(ValueError):
    pass


class BrandCatalog:
    def __init__(self, default: Brand, brands: dict[str, Brand]) -> None:
        self._default = default
        self._brands = brands

    def get(self, slug: str) -> Brand:
        brand = self._brands.get(slug)
        if brand is not None:
            return brand
        default = self._default
        return Brand(slug, default.taxonomy, default.timezone, default.currency, (), default.pnl, configured=False)

    def configured(self) -> list[str]:
        return sorted(self._brands)

    def taxonomies(self) -> set[str]:
        return {brand.taxonomy for brand in self._brands.values()} | {self._default.taxonomy}


def load_brands(path: Path) -> BrandCatalog:
    try:
        document = BrandsDocument.model_validate(yaml.safe_load(path.read_text()))
    except (ValidationError, yaml.YAMLError) as error:
        raise BrandsFileInvalid(f"{path}: {error}") from error
    models: dict[str, PnlModel] = {}

    def resolve(slug: str, entry: BrandEntry) -> Brand:
        base = document.default
        model_file = entry.pnl_model or base.pnl_model
        zone_name = entry.timezone or base.timezone or "UTC"
        if model_file is None:
            raise BrandsFileInvalid(f"{path}: {slug}: no pnl_model and no default one")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise BrandsFileInvalid(f"{path}: {slug}: unknown timezone {zone_name!r}") from error
        if model_file not in models:
            models[model_file] = load_pnl_model(path.parent / model_file)
        return Brand(
            slug=slug,
            taxonomy=entry.taxonomy or base.taxonomy or "default",
            timezone=zone,
            currency=entry.currency or base.currency or "USD",
            competitors=tuple(entry.competitors if entry.competitors is not None else base.competitors or ()),
            pnl=models[model_file],
            configured=slug != "*default*",
        )

    default = resolve("*default*", document.default)
    return BrandCatalog(default, {slug: resolve(slug, entry) for slug, entry in document.brands.items()})
