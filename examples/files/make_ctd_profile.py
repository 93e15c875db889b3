"""Write examples/files/ctd_profile.nc: one CTD cast as a CF-1.8 profile (NetCDF classic).

The example NetCDF file of docket's QA: temperature and practical salinity at 25 depths of
station BB-02 of the spring 2024 Bay of Biscay survey (the stations of ctd_bay_of_biscay_2024.csv),
with the scalar time, latitude and longitude of the cast. It passes docket's ``netcdf.*`` checks
and compliance-checker's CF-1.8 rules at every priority, so a test that changes one attribute
knows exactly which finding to expect.

NetCDF classic format keeps the file small (about 2 KB) and byte-for-byte reproducible (NetCDF-4
files carry the library versions that wrote them). Run ``python examples/files/make_ctd_profile.py``
to write it again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import netCDF4
import numpy as np

HERE = Path(__file__).resolve().parent
FILL = np.float32(-999.0)


def profile() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depths (m), temperature (degree_Celsius) and salinity of a stratified spring shelf cast."""
    depth = np.array([1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 18, 20, 25, 30, 35, 40, 45, 50, 60,
                      70, 80, 90, 100, 110], dtype="f4")
    temperature = (11.4 + 3.1 / (1 + np.exp((depth - 22.0) / 4.0))).round(3).astype("f4")
    salinity = (35.42 + 0.28 * (1 - np.exp(-depth / 30.0))).round(3).astype("f4")
    temperature[-1] = FILL  # the last bottle of the cast misfired: a fill value, not data
    return depth, temperature, salinity


def write(path: Path) -> Path:
    depth, temperature, salinity = profile()
    ds = netCDF4.Dataset(str(path), "w", format="NETCDF3_CLASSIC")
    try:
        ds.setncatts({
            "Conventions": "CF-1.8",
            "title": "CTD cast at station BB-02, Bay of Biscay shelf, 12 May 2024",
            "institution": "Marine Observatory of Brest",
            "source": "Sea-Bird SBE 911plus CTD, serial 0917, calibrated 2024-02-14",
            "history": "2024-05-12 bin-averaged to the listed depths; written by make_ctd_profile.py",
            "references": "docket examples: examples/files/ctd_bay_of_biscay_2024.csv",
            "comment": "Example file of docket's quality checks.",
            "featureType": "profile",
        })
        ds.createDimension("depth", len(depth))
        ds.createDimension("name_strlen", 5)

        station = ds.createVariable("station", "S1", ("name_strlen",))
        station.setncatts({"long_name": "station identifier", "cf_role": "profile_id"})
        station[:] = netCDF4.stringtochar(np.array(["BB-02"], dtype="S5"))[0]

        time = ds.createVariable("time", "f8", ())
        time.setncatts({"standard_name": "time", "long_name": "time of the cast",
                        "units": "seconds since 1970-01-01 00:00:00", "calendar": "standard",
                        "axis": "T"})
        time.assignValue(1715499000.0)  # 2024-05-12T07:30:00Z

        lat = ds.createVariable("lat", "f4", ())
        lat.setncatts({"standard_name": "latitude", "long_name": "latitude of the cast",
                       "units": "degrees_north", "axis": "Y"})
        lat.assignValue(45.85)
        lon = ds.createVariable("lon", "f4", ())
        lon.setncatts({"standard_name": "longitude", "long_name": "longitude of the cast",
                       "units": "degrees_east", "axis": "X"})
        lon.assignValue(-2.35)

        z = ds.createVariable("depth", "f4", ("depth",))
        z.setncatts({"standard_name": "depth", "long_name": "depth below the sea surface",
                     "units": "m", "positive": "down", "axis": "Z"})
        z[:] = depth

        for name, values, attrs in (
            ("temperature", temperature, {"standard_name": "sea_water_temperature",
                                          "long_name": "sea water temperature (ITS-90)",
                                          "units": "degree_Celsius",
                                          "valid_range": np.array([-2.0, 35.0], dtype="f4")}),
            ("salinity", salinity, {"standard_name": "sea_water_practical_salinity",
                                    "long_name": "practical salinity (PSS-78)", "units": "1",
                                    "valid_range": np.array([0.0, 42.0], dtype="f4")}),
        ):
            var = ds.createVariable(name, "f4", ("depth",), fill_value=FILL)
            var.setncatts({**attrs, "coordinates": "time lat lon station"})
            var[:] = values
    finally:
        ds.close()
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "ctd_profile.nc"
    print(write(target))
