"""Checks beyond CSV (issue 11, item 4): dispatch on what a file's bytes are, the ``netcdf.*``
structural checks and CF conformance through the IOOS compliance-checker (``cf.*``).

NetCDF files are written here with netCDF4 (NetCDF-4/HDF5, one seeded defect each) beside the
repository's classic-format example, examples/files/ctd_profile.nc, which passes everything.
Runs that need a fresh interpreter (compliance-checker hidden, the network forbidden, start-up
imports) are child processes of the test's own Python.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pytest

from docket.checks import check_request, validate_report
from docket.checks._run import check_file
from docket.checks.media import BINARY, NETCDF, TABLE, TEXT, sniff
from docket.errors import BadInput

ROOT = Path(__file__).resolve().parents[1]
FILES = ROOT / "examples" / "files"
EXAMPLE = FILES / "ctd_profile.nc"
NETCDF_FAMILIES = ("netcdf", "cf")


def write_nc(path: Path, *, conventions: str | None = "CF-1.8", units: bool = True,
             fill: float = -999.0, missing: Any = None, depth: tuple = (0, 1, 2, 5, 10),
             extra: dict[str, Any] | None = None) -> Path:
    """A small CF profile in NetCDF-4 (HDF5), with the defect the arguments ask for."""
    ds = netCDF4.Dataset(str(path), "w", format="NETCDF4")
    if conventions is not None:
        ds.Conventions = conventions
    ds.title = "CTD test profile"
    ds.history = "written by tests/test_netcdf.py"
    for key, value in (extra or {}).items():
        ds.setncattr(key, value)
    ds.createDimension("depth", len(depth))
    z = ds.createVariable("depth", "f4", ("depth",))
    z.setncatts({"units": "m", "standard_name": "depth", "positive": "down", "axis": "Z"})
    z[:] = np.array(depth, dtype="f4")
    t = ds.createVariable("temperature", "f4", ("depth",), fill_value=np.float32(fill))
    t.setncatts({"standard_name": "sea_water_temperature", "long_name": "sea water temperature",
                 "valid_range": np.array([-2.0, 35.0], dtype="f4")})
    if units:
        t.units = "degree_Celsius"
    if missing is not None:
        t.setncattr("missing_value", missing)  # setncattr keeps the type it is given
    t[:] = np.linspace(12.0, 10.0, len(depth)).astype("f4")
    name = ds.createVariable("instrument", str, ())  # a dimension-less string: needs no units
    name[0] = "SBE 911plus"
    ds.close()
    return path


def by_id(report) -> dict[str, Any]:
    return {c["id"]: c for c in report.to_dict()["checks"]}


def statuses(report, families=NETCDF_FAMILIES) -> dict[str, str]:
    return {c.id: c.status for c in report.checks if c.family in families}


# --------------------------------------------------------------------------- the NetCDF checks


def test_the_example_profile_passes_every_netcdf_and_cf_check():
    report = check_file(EXAMPLE)
    report.validate()
    assert statuses(report) == {
        "netcdf.opens": "valid", "netcdf.structure": "not-checked", "netcdf.units": "valid",
        "netcdf.fill-value": "valid", "netcdf.conventions": "valid", "netcdf.coordinates": "valid",
        "cf.high": "valid", "cf.medium": "valid", "cf.low": "valid",
    }
    assert not [c for c in report.checks if c.family == "table"]
    checks = by_id(report)
    assert checks["netcdf.opens"]["found"] == "NetCDF classic (CDF-1): 2 dimensions, 7 variables"
    assert checks["netcdf.units"]["found"] == "units on all 6 data and coordinate variables"
    assert "CF-1.8" in checks["cf.high"]["expected"]
    entry = report.files[0]
    assert (entry["kind"], entry["media_type"], entry["checked"]) == ("netcdf", "application/x-netcdf", True)
    assert entry["dimensions"] == {"depth": 25, "name_strlen": 5}
    assert "checked against CF-1.8, as declared" in " ".join(report.notes)


def test_a_good_netcdf4_file_passes(tmp_path):
    report = check_file(write_nc(tmp_path / "good.nc"))
    assert set(statuses(report).values()) <= {"valid", "not-checked"}, statuses(report)
    assert by_id(report)["netcdf.opens"]["found"].startswith("NetCDF-4 (HDF5)")
    assert not report.has_errors


def test_missing_units_named_with_variable_and_attribute(tmp_path):
    report = check_file(write_nc(tmp_path / "nounits.nc", units=False))
    checks = by_id(report)
    units = checks["netcdf.units"]
    assert units["status"] == "error" and units["count"] == 1
    assert units["found"] == "1 of 2 variables without units"  # depth and temperature; not the string
    loc = units["locations"][0]
    assert (loc["column"], loc["path"], loc["note"]) == ("temperature", "temperature:units", "no units attribute")
    assert units["suggestion"] and "units" in units["suggestion"]
    assert units["counts"] == {"temperature": 1}
    high = checks["cf.high"]
    assert high["status"] == "error"
    assert any(loc["column"] == "temperature" and loc["path"].startswith("§3.1") for loc in high["locations"])
    assert report.has_errors


def test_fill_value_inside_valid_range_and_missing_value_of_another_type(tmp_path):
    path = write_nc(tmp_path / "badfill.nc", fill=10.0, missing=np.float64(-999.0))
    checks = by_id(check_file(path))
    fill = checks["netcdf.fill-value"]
    assert fill["status"] == "error" and fill["count"] == 2
    where = {(loc["path"], loc["value"], loc["note"]) for loc in fill["locations"]}
    assert where == {
        ("temperature:_FillValue", 10.0, "inside the valid range [-2.0, 35.0]"),
        ("temperature:missing_value", -999.0, "missing_value is float64, the variable is float32"),
    }
    medium = checks["cf.medium"]  # compliance-checker calls both MEDIUM: a warning by default
    assert medium["status"] == "warn"
    assert {loc["column"] for loc in medium["locations"]} == {"temperature"}
    assert any("_FillValue" in loc["note"] for loc in medium["locations"])


def test_no_conventions_and_conventions_without_cf(tmp_path):
    report = check_file(write_nc(tmp_path / "noconv.nc", conventions=None))
    conv = by_id(report)["netcdf.conventions"]
    assert conv["status"] == "error" and conv["found"] == "no Conventions attribute"
    assert conv["locations"][0]["path"] == ":Conventions"
    assert "no CF version: checked against CF-1.11" in " ".join(report.notes)
    acdd = by_id(check_file(write_nc(tmp_path / "acdd.nc", conventions="ACDD-1.3")))["netcdf.conventions"]
    assert acdd["status"] == "error" and acdd["locations"][0]["value"] == "ACDD-1.3"
    listed = check_file(write_nc(tmp_path / "both.nc", conventions="CF-1.7, ACDD-1.3"))
    assert by_id(listed)["netcdf.conventions"]["status"] == "valid"
    assert "checked against CF-1.7, as declared" in " ".join(listed.notes)


def test_non_monotonic_coordinate(tmp_path):
    checks = by_id(check_file(write_nc(tmp_path / "order.nc", depth=(0, 1, 1, 5, 3))))
    coords = checks["netcdf.coordinates"]
    assert coords["status"] == "error" and coords["count"] == 2
    assert [(loc["path"], loc["value"], loc["note"]) for loc in coords["locations"]] == [
        ("depth[2]", 1.0, "not greater than depth[1] = 1.0"),
        ("depth[4]", 3.0, "not greater than depth[3] = 5.0"),
    ]
    assert checks["cf.high"]["status"] == "error"
    decreasing = by_id(check_file(write_nc(tmp_path / "up.nc", depth=(10, 5, 2, 1, 0))))
    assert decreasing["netcdf.coordinates"]["status"] == "valid"


def test_a_cut_netcdf_file_is_one_error_and_the_rest_not_checked(tmp_path):
    cut = tmp_path / "cut.nc"
    cut.write_bytes(EXAMPLE.read_bytes()[:300])
    report = check_file(cut)
    checks = by_id(report)
    assert checks["netcdf.opens"]["status"] == "error"
    assert "cannot be opened" in checks["netcdf.opens"]["found"]
    for check_id, status in statuses(report).items():
        if check_id != "netcdf.opens":
            assert status == "not-checked", check_id
            assert "cannot be opened" in checks[check_id]["found"]
    assert report.files[0]["checked"] is True  # netcdf.opens ran, and said why nothing else did


# --------------------------------------------------------------------------- dispatch on the bytes


def test_a_methods_text_gets_text_checks_never_table_checks(tmp_path):
    report = check_file(FILES / "soil_methods.txt")
    assert [c.id for c in report.checks] == ["text.encoding"]
    assert report.checks[0].status == "valid" and "header but no data rows" not in report.text()
    assert report.files[0]["kind"] == "text" and report.files[0]["encoding"] == "utf-8"
    latin = tmp_path / "notes.txt"
    latin.write_bytes("Probe gereinigt.\nTemperatur in °C gemessen.\n".encode("latin-1"))
    enc = by_id(check_file(latin))["text.encoding"]
    assert enc["status"] == "error" and enc["locations"][0]["line"] == 2
    assert by_id(check_file(latin, encoding="latin-1"))["text.encoding"]["status"] == "valid"


def test_checks_follow_the_bytes_not_the_name(tmp_path):
    disguised = tmp_path / "profile.csv"  # a NetCDF file with a CSV name
    shutil.copy(EXAMPLE, disguised)
    report = check_file(disguised)
    assert statuses(report)["netcdf.units"] == "valid" and not statuses(report, ("table",))
    assert any("declared as a table, but its bytes are NetCDF classic" in n for n in report.notes)
    archive = tmp_path / "data.csv"  # a zip archive with a CSV name: size and checksums only
    archive.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    zipped = check_file(archive)
    assert zipped.checks == [] and not zipped.has_errors
    assert zipped.files[0]["reason"] == "a zip archive: no content checks apply (size and checksums only)"
    table = tmp_path / "export.dat"  # a CSV without a telling name is still a table
    table.write_text("station,depth\nBB-01,1.0\nBB-01,2.0\n")
    assert by_id(check_file(table))["table.column-count"]["status"] == "valid"


def test_sniff_reads_magic_bytes(tmp_path):
    hdf5 = tmp_path / "plain.h5"
    hdf5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 200)
    assert sniff(hdf5).kind == BINARY and sniff(hdf5).media_type == "application/x-hdf5"
    assert sniff(hdf5, "application/x-netcdf").kind == NETCDF  # declared NetCDF-4: worth opening
    assert sniff(write_nc(tmp_path / "x.bin")).kind == NETCDF  # netCDF-C's own markers
    assert sniff(EXAMPLE).detail == "NetCDF classic (CDF-1)"
    assert sniff(FILES / "soil_methods.txt", "text/plain").kind == TEXT
    assert sniff(FILES / "soil_sites.csv", "text/csv").kind == TABLE
    empty = tmp_path / "empty.nc"
    empty.write_bytes(b"")
    assert sniff(empty).kind == NETCDF
    assert by_id(check_file(empty))["netcdf.opens"]["found"] == "cannot be opened: the file is empty (0 bytes)"
    with pytest.raises(BadInput):
        check_file(tmp_path)


def write_grouped(path: Path) -> Path:
    """A NetCDF-4 file with nested groups (as model output and some instruments write them): a
    good root, a defect in ``ocean`` and two in ``ocean/deep``, each only visible by walking the
    groups."""
    ds = netCDF4.Dataset(str(path), "w", format="NETCDF4")
    ds.Conventions = "CF-1.8"
    ds.title = "grouped profile"
    ds.createDimension("depth", 4)
    z = ds.createVariable("depth", "f4", ("depth",))
    z.setncatts({"units": "m", "standard_name": "depth", "positive": "down", "axis": "Z"})
    z[:] = np.array([0, 1, 2, 5], dtype="f4")
    ocean = ds.createGroup("ocean")
    t = ocean.createVariable("temperature", "f4", ("depth",))  # uses the root's dimension
    t.long_name = "sea water temperature"  # and has no units
    t[:] = np.array([12, 11.5, 11, 10], dtype="f4")
    deep = ocean.createGroup("deep")
    deep.createDimension("layer", 3)
    layer = deep.createVariable("layer", "i4", ("layer",))
    layer.units = "1"
    layer[:] = np.array([1, 3, 2], dtype="i4")  # not monotonic
    salt = deep.createVariable("salinity", "f4", ("layer",), fill_value=np.float32(35.0))
    salt.setncatts({"units": "1e-3", "missing_value": np.float64(-1.0),  # of another type
                    "valid_range": np.array([0.0, 42.0], dtype="f4")})  # and the fill inside it
    salt[:] = np.array([34.9, 35.1, 35.2], dtype="f4")
    ds.createGroup("empty")
    ds.close()
    return path


def test_nested_groups_are_walked_and_named_by_their_path(tmp_path):
    report = check_file(write_grouped(tmp_path / "grouped.nc"))
    report.validate()
    checks = by_id(report)
    assert checks["netcdf.opens"]["found"] == (
        "NetCDF-4 (HDF5): 2 dimensions, 4 variables, 3 groups below the root")
    assert report.files[0]["dimensions"] == {"depth": 4, "ocean/deep/layer": 3}
    assert report.files[0]["variables"] == ["depth", "ocean/temperature", "ocean/deep/layer",
                                            "ocean/deep/salinity"]
    units = checks["netcdf.units"]
    assert units["found"] == "1 of 4 variables without units"
    assert [(loc["column"], loc["path"]) for loc in units["locations"]] == [
        ("ocean/temperature", "ocean/temperature:units")]
    fill = checks["netcdf.fill-value"]
    assert sorted((loc["path"], loc["note"]) for loc in fill["locations"]) == [
        ("ocean/deep/salinity:_FillValue", "inside the valid range [0.0, 42.0]"),
        ("ocean/deep/salinity:missing_value", "missing_value is float64, the variable is float32")]
    order = checks["netcdf.coordinates"]
    assert [(loc["column"], loc["path"], loc["value"]) for loc in order["locations"]] == [
        ("ocean/deep/layer", "ocean/deep/layer[2]", 2)]
    assert checks["netcdf.conventions"]["status"] == "valid"  # the root group's, as CF says


def test_a_declared_variable_in_a_group_is_found_by_its_path(tmp_path):
    path = write_grouped(tmp_path / "grouped.nc")
    entry = {"name": "g.nc", "location": str(path),
             "structure": {"dimensions": {"ocean/deep/layer": 3},
                           "variables": {"ocean/temperature": {"dimensions": ["depth"]},
                                         "ocean/deep/salinity": {"units": "1e-3"}}}}
    report = check_request(request([entry]), {"g.nc": path}, severities={"cf": "off"})
    structure = next(c for c in report.checks if c.id == "netcdf.structure")
    assert structure.status == "valid", structure.locations
    assert structure.found == "the declared 1 dimension and 2 variables are in the file, as declared"


def test_groups_nested_past_the_bound_are_named_not_read(tmp_path):
    """A provider's file is hostile input: 40 levels of groups are read to 32, and the rest said."""
    path = tmp_path / "deep.nc"
    ds = netCDF4.Dataset(str(path), "w", format="NETCDF4")
    ds.Conventions = "CF-1.8"
    group = ds
    for level in range(40):
        group = group.createGroup(f"g{level}")
    group.createVariable("hidden", "f4", ())  # past the bound: not read, so not reported
    ds.close()
    report = check_file(path)
    opens = by_id(report)["netcdf.opens"]
    assert opens["found"].endswith("32 groups below the root (1 more group not read: deeper than "
                                   "32 levels or more than 1000 groups)")
    assert any("were not read (too deep or too many)" in n for n in report.notes)
    assert not [v for v in report.files[0]["variables"] if v.endswith("hidden")]


# --------------------------------------------------------------------------- a request's NetCDF files


def request(files: list[dict[str, Any]], structural: dict | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {"id": "ocean-0001", "revision": 1, "metadata": {}, "files": files}
    if structural is not None:
        rec["metadata"]["dataset_structural"] = structural
    return rec


def test_request_checks_each_file_by_kind_and_declared_variables(tmp_path):
    bad = write_nc(tmp_path / "bad.nc", units=False)
    files = {"ctd_profile.nc": EXAMPLE, "bad.nc": bad, "soil_methods.txt": FILES / "soil_methods.txt"}
    declared = [{"name": n, "location": str(p)} for n, p in files.items()]
    declared[2]["media_type"] = "text/plain"
    structural = {"fields": [{"name": "depth", "type": "number", "unit": "m"},
                             {"name": "temperature", "type": "number", "unit": "degree_Celsius"},
                             {"name": "oxygen", "type": "number", "unit": "umol/kg"}]}
    report = check_request(request(declared, structural), files)
    validate_report(report.to_dict())
    got = {(c.id, c.file): c for c in report.checks}
    assert got[("netcdf.units", "ctd_profile.nc")].status == "valid"
    assert got[("netcdf.units", "bad.nc")].status == "error"
    structure = got[("netcdf.structure", "bad.nc")]
    assert structure.status == "error" and structure.count == 2
    assert {(loc["column"], loc["note"]) for loc in structure.locations} == {
        ("temperature", "declared units 'degree_Celsius'"), ("oxygen", "declared variable is missing")}
    assert got[("netcdf.structure", "ctd_profile.nc")].locations == [
        {"file": "ctd_profile.nc", "row": None, "column": "oxygen", "value": None,
         "note": "declared variable is missing"}]
    assert got[("text.encoding", "soil_methods.txt")].status == "valid"
    assert not [c for c in report.checks if c.family == "table"]
    kinds = {f["name"]: (f["kind"], f["checked"]) for f in report.files}
    assert kinds == {"ctd_profile.nc": ("netcdf", True), "bad.nc": ("netcdf", True),
                     "soil_methods.txt": ("text", True)}


def test_file_entry_structure_and_severities(tmp_path):
    path = write_nc(tmp_path / "badfill.nc", fill=10.0)
    entry = {"name": "p.nc", "location": str(path),
             "structure": {"dimensions": {"depth": 6, "time": None},
                           "variables": {"temperature": {"dimensions": ["depth"]}}}}
    report = check_request(request([entry]), {"p.nc": path}, severities={"cf.medium": "error"})
    got = {c.id: c for c in report.checks if c.file == "p.nc"}
    assert {(loc["path"], loc["value"], loc["note"]) for loc in got["netcdf.structure"].locations} == {
        ("depth", 5, "declared length 6"), ("time", None, "declared dimension is missing")}
    assert got["cf.medium"].status == "error" and got["cf.medium"].severity == "error"
    off = check_request(request([entry]), {"p.nc": path}, severities={"cf": "off", "netcdf.units": "warn"})
    got = {c.id: c for c in off.checks if c.file == "p.nc"}
    for check_id in ("cf.high", "cf.medium", "cf.low"):
        assert (got[check_id].status, got[check_id].found) == ("not-checked", "turned off by the severity settings")
    assert got["netcdf.units"].severity == "warn"
    with pytest.raises(BadInput, match="whole family"):
        check_request(request([entry]), {"p.nc": path}, severities={"cff": "off"})


# --------------------------------------------------------------------------- fresh interpreters


def child(code: str, *args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


_OFFLINE = """
import json, sys
attempts = []
def guard(event, args):
    if event in ("socket.connect", "socket.getaddrinfo"):
        attempts.append(f"{event} {args!r}")
        raise OSError("the network is out of bounds for this test")
sys.addaudithook(guard)
from docket.checks._run import check_file
report = check_file(sys.argv[1])
print(json.dumps({c.id: [c.status, c.found] for c in report.checks}
                 | {"notes": report.notes, "attempts": attempts}))
"""


def test_cf_checks_stay_offline(tmp_path):
    """A file naming a standard-name table docket does not bundle, and a taxon variable: the
    checker would download or look them up; docket does neither (a socket use would fail)."""
    path = write_nc(tmp_path / "vocab.nc", extra={"standard_name_vocabulary": "CF Standard Name Table v99"})
    ds = netCDF4.Dataset(str(path), "a")
    ds.createDimension("taxon", 1)
    taxon = ds.createVariable("taxon_lsid", str, ("taxon",))
    taxon.standard_name = "biological_taxon_lsid"
    taxon[0] = "urn:lsid:marinespecies.org:taxname:104464"
    ds.close()
    out = child(_OFFLINE, str(path))
    assert out["attempts"] == []
    assert out["cf.high"][0] in ("valid", "error") and out["netcdf.opens"][0] == "valid"
    assert any("check_taxa needs the network" in n for n in out["notes"])


_HIDDEN = """
import json, sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "compliance_checker":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Hide())
from docket.checks._run import check_file
report = check_file(sys.argv[1])
print(json.dumps({c.id: [c.status, c.found] for c in report.checks}))
"""


def test_without_compliance_checker_cf_is_not_checked_and_the_rest_runs():
    out = child(_HIDDEN, str(EXAMPLE))
    for check_id in ("cf.high", "cf.medium", "cf.low"):
        status, found = out[check_id]
        assert status == "not-checked" and "compliance-checker is not installed" in found
    assert out["netcdf.units"][0] == out["netcdf.conventions"][0] == "valid"


_CSV_IMPORTS = """
import json, sys
from docket.checks._run import check_file
check_file(sys.argv[1])
print(json.dumps(sorted({m.partition(".")[0] for m in sys.modules})))
"""


def test_checking_a_csv_loads_no_netcdf_library():
    loaded = set(child(_CSV_IMPORTS, str(FILES / "soil_sites.csv")))
    assert "docket" in loaded
    assert not loaded & {"netCDF4", "xarray", "compliance_checker", "cftime", "cf_units"}
