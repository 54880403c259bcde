from django.apps import AppConfig


class SensorsAnalysisConfig(AppConfig):
    name = "sensors.analysis"
    label = "sensors_analysis"
    verbose_name = "Sensors in the models (calibrated demand, forecasts, anomalies)"
