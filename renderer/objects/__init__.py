"""Objects that are not images, and what each kind offers (kinds): Encapsulated PDF, Structured
Reports, video, cards for objects without pixels, the stored file in another transfer syntax."""
