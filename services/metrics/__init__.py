"""Host metrics: collectors (local psutil + NVML, SSH), the latest-snapshot store and tiered history."""
