"""The webhooks service's own knobs (CREDSTREAM_WEBHOOK_*); shared settings (database, KEK, admin token, insecure
hosts) come from shared.settings."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.webhooks.domain import RetryPolicy


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDSTREAM_WEBHOOK_", env_file=None, extra="ignore")

    timeout_seconds: float = Field(default=10.0, gt=0, description="time an endpoint has to answer one attempt")
    max_attempts: int = Field(default=20, ge=1, description="attempts before a delivery is dead-lettered")
    retry_base_seconds: float = Field(default=5.0, gt=0, description="wait after the first failure (doubles)")
    retry_cap_seconds: float = Field(default=3600.0, gt=0, description="longest wait between two attempts")
    poll_seconds: float = Field(default=1.0, gt=0, description="how often the delivery loop looks for due work")
    batch_size: int = Field(default=50, ge=1, description="deliveries one loop pass sends concurrently")
    rotation_overlap_seconds: int = Field(default=86400, ge=0, description="default life of a rotated-out secret")

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_attempts, self.retry_base_seconds, self.retry_cap_seconds)
