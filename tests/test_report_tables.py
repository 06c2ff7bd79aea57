"""The scorer summary's HTML table for the report."""

import pandas as pd

from residual_pitfalls.reporting.tables import summary_html


def test_summary_html_names_columns_by_model_label_and_bolds_the_best():
    table = pd.DataFrame(
        {
            "score": ["residual", "ssim"],
            "blind_spot_area": [0.34, 0.69],
            "min_ap_sigma1": [0.2, 0.62],
            "exp3_ap_ae": [0.5, 0.19],
            "exp3_ap_my_ae": [0.1, 0.3],
            "exp3_pooled_ap_ae": [0.4, float("nan")],
        }
    )
    page = summary_html(table, {"ae": "AE latent 128", "my_ae": "My AE"})
    assert "<th>blind-spot area (lower is better)</th>" in page
    assert "<th>Exp. 3.2 AP: AE latent 128</th>" in page and "<th>Exp. 3.2 AP: My AE</th>" in page
    assert "<th>Exp. 3.2 pooled_ap: AE latent 128</th>" in page
    rows = page.split("<tr>")[2:]
    assert rows[0].startswith("<td>residual</td><td><b>0.340</b></td><td>0.200</td>")
    assert "<td><b>0.300</b></td>" in rows[1] and "<td>–</td>" in rows[1]
