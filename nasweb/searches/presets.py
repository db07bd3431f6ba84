"""MCU presets: common boards with the SRAM and Flash their vendors' datasheets give.

KB and MB are binary here, as in the datasheets (1 KB = 1024 bytes). ``sram_bytes`` is the RAM a
TFLite Micro arena can realistically use as one block; where a part's RAM is split into
regions, the note says which figure was taken. Sources:

- Nordic nRF52840 Product Specification v1.8, section 1 "Key features": 1 MB flash, 256 KB RAM.
  The Arduino Nano 33 BLE (Arduino ABX00030 datasheet) carries this chip.
- ST STM32F446xC/E datasheet DS10693 Rev 10, section 3.6 "Embedded Flash memory" (512 KB for
  the -E part) and 3.7 "Embedded SRAM": 128 KB system SRAM (112 KB SRAM1 + 16 KB SRAM2;
  plus 4 KB backup SRAM, not counted).
- ST STM32H742xI/G STM32H743xI/G datasheet DS12110 Rev 9, section 3.3.2 "Embedded SRAM": 1 MB
  of RAM in all (192 KB TCM, 512 KB AXI SRAM, 288 KB SRAM1-3, 64 KB SRAM4, 4 KB backup) and
  2 MB of Flash. The preset uses the 512 KB AXI SRAM: the largest contiguous region, the one an
  arena can occupy.
- Espressif ESP32 Series Datasheet v4.x, section 4.1.2 "Internal memory": 520 KB of on-chip
  SRAM (split into regions for instructions and data); Flash is external, 4 MB on the common
  ESP32-WROOM-32 module (its datasheet, section 1 "Module overview").
- Raspberry Pi RP2040 Datasheet, section 2.6 "Memory": 264 KB on-chip SRAM (four 64 KB banks
  striped as one 256 KB region, plus two 4 KB banks); the Raspberry Pi Pico board datasheet
  section 1: 2 MB external QSPI flash (W25Q16JV).
- ST STM32F103x8/xB datasheet DS5319, section 2.3 "Overview" / Table 2: the x8 part (the
  "Blue Pill" STM32F103C8) has 20 KB SRAM and 64 KB Flash; Cortex-M3 at 72 MHz.
- ST STM32L072xx datasheet DS10182, section 1 "Features": 20 KB RAM, 192 KB Flash (the xZ
  part); Cortex-M0+ at 32 MHz.
- ST STM32G071x8/xB datasheet DS12232, section 1: 36 KB SRAM, 128 KB Flash (the xB part);
  Cortex-M0+ at 64 MHz.
- Nordic nRF52832 Product Specification v1.x, section 1 "Key features": 512 KB flash, 64 KB
  RAM (the QFAA part); Cortex-M4F at 64 MHz.
- Espressif ESP32-C3 Series Datasheet, section 1 / 4.1.2: 400 KB SRAM of which 16 KB is the
  cache; RISC-V at 160 MHz; 4 MB in-package Flash on the ESP32-C3-MINI-1 module (its datasheet).
- Microchip SAM D21 family datasheet DS40001882, "Features": SAMD21G18A 256 KB Flash, 32 KB
  SRAM; Cortex-M0+ at 48 MHz (Arduino Zero, MKR boards).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

KB = 1024
MB = 1024 * KB

#: Above these a limit is warned about (not refused): no MCU has more. The largest on-chip SRAMs
#: are a few MiB (e.g. 2 MiB on NXP i.MX RT1170, 1.4 MiB on STM32H7A3), external PSRAM on MCU
#: modules is 8-16 MiB (ESP32-S3); external QSPI/octal Flash goes up to 64 MiB.
PLAUSIBLE_MAX_SRAM_BYTES = 16 * MB
PLAUSIBLE_MAX_FLASH_BYTES = 64 * MB


@dataclass(frozen=True)
class McuPreset:
    id: str
    name: str
    mcu: str
    sram_bytes: int
    flash_bytes: int
    note: str = ""

    def to_json(self) -> dict:
        return asdict(self)


PRESETS: tuple[McuPreset, ...] = (
    McuPreset("arduino-nano-33-ble", "Arduino Nano 33 BLE", "nRF52840 (Cortex-M4F, 64 MHz)",
              256 * KB, 1 * MB, "the board's nRF52840: 256 KB RAM, 1 MB Flash"),
    McuPreset("stm32f446re", "STM32F446RE (e.g. NUCLEO-F446RE)", "STM32F446RE (Cortex-M4F, "
              "180 MHz)", 128 * KB, 512 * KB,
              "112 KB SRAM1 + 16 KB SRAM2; the 4 KB backup SRAM is not counted"),
    McuPreset("stm32h743", "STM32H743", "STM32H743xI (Cortex-M7, 480 MHz)", 512 * KB, 2 * MB,
              "512 KB AXI SRAM, the largest contiguous region (1 MB RAM in all)"),
    McuPreset("esp32", "ESP32 (WROOM-32 module)", "ESP32 (Xtensa LX6, 240 MHz)", 520 * KB,
              4 * MB, "520 KB on-chip SRAM split into regions; the largest free heap block is "
              "smaller in practice; 4 MB external Flash on the common module"),
    McuPreset("stm32f103c8", "STM32F103C8 (\"Blue Pill\")", "STM32F103C8 (Cortex-M3, 72 MHz)",
              20 * KB, 64 * KB),
    McuPreset("stm32l072cz", "STM32L072CZ (e.g. B-L072Z-LRWAN1)",
              "STM32L072CZ (Cortex-M0+, 32 MHz)", 20 * KB, 192 * KB),
    McuPreset("stm32g071rb", "STM32G071RB (e.g. NUCLEO-G071RB)",
              "STM32G071RB (Cortex-M0+, 64 MHz)", 36 * KB, 128 * KB),
    McuPreset("nrf52832", "nRF52832", "nRF52832 (Cortex-M4F, 64 MHz)", 64 * KB, 512 * KB),
    McuPreset("esp32-c3", "ESP32-C3 (MINI-1 module)", "ESP32-C3 (RISC-V, 160 MHz)", 384 * KB,
              4 * MB, "400 KB SRAM of which 16 KB is the instruction cache; 4 MB Flash in the "
              "module"),
    McuPreset("samd21g18", "SAMD21G18 (Arduino Zero, MKR)", "ATSAMD21G18A (Cortex-M0+, 48 MHz)",
              32 * KB, 256 * KB),
    McuPreset("nrf52840", "nRF52840", "nRF52840 (Cortex-M4F, 64 MHz)", 256 * KB, 1 * MB),
    McuPreset("rp2040-pico", "Raspberry Pi Pico", "RP2040 (dual Cortex-M0+, 133 MHz)",
              264 * KB, 2 * MB, "264 KB SRAM in six banks; 2 MB external QSPI Flash on the board"),
)


def presets() -> list[dict]:
    return [p.to_json() for p in PRESETS]
