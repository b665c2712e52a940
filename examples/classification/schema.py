"""What a row of the breast-cancer data must look like: mlci checks both files against it."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series


class BreastCancerSchema(pa.DataFrameModel):
    mean_radius: Series[float] = pa.Field(ge=0)
    mean_texture: Series[float] = pa.Field(ge=0)
    mean_perimeter: Series[float] = pa.Field(ge=0)
    mean_area: Series[float] = pa.Field(ge=0)
    mean_smoothness: Series[float] = pa.Field(ge=0)
    mean_compactness: Series[float] = pa.Field(ge=0)
    mean_concavity: Series[float] = pa.Field(ge=0)
    mean_concave_points: Series[float] = pa.Field(ge=0)
    mean_symmetry: Series[float] = pa.Field(ge=0)
    mean_fractal_dimension: Series[float] = pa.Field(ge=0)
    radius_error: Series[float] = pa.Field(ge=0)
    texture_error: Series[float] = pa.Field(ge=0)
    perimeter_error: Series[float] = pa.Field(ge=0)
    area_error: Series[float] = pa.Field(ge=0)
    smoothness_error: Series[float] = pa.Field(ge=0)
    compactness_error: Series[float] = pa.Field(ge=0)
    concavity_error: Series[float] = pa.Field(ge=0)
    concave_points_error: Series[float] = pa.Field(ge=0)
    symmetry_error: Series[float] = pa.Field(ge=0)
    fractal_dimension_error: Series[float] = pa.Field(ge=0)
    worst_radius: Series[float] = pa.Field(ge=0)
    worst_texture: Series[float] = pa.Field(ge=0)
    worst_perimeter: Series[float] = pa.Field(ge=0)
    worst_area: Series[float] = pa.Field(ge=0)
    worst_smoothness: Series[float] = pa.Field(ge=0)
    worst_compactness: Series[float] = pa.Field(ge=0)
    worst_concavity: Series[float] = pa.Field(ge=0)
    worst_concave_points: Series[float] = pa.Field(ge=0)
    worst_symmetry: Series[float] = pa.Field(ge=0)
    worst_fractal_dimension: Series[float] = pa.Field(ge=0)
    diagnosis: Series[int] = pa.Field(isin=[0, 1])  # 1 = malignant, 0 = benign

    @pa.dataframe_check
    def worst_radius_is_at_least_the_mean(cls, df: DataFrame) -> Series[bool]:
        return df["worst_radius"] >= df["mean_radius"]

    class Config:
        strict = True
