"""``md.keras.preprocessing``: ``sequence.pad_sequences`` and ``image.ImageDataGenerator``."""
from minidl.keras.preprocessing import image, sequence
