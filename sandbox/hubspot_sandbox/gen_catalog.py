"""Static vocabularies the generator draws from: names, places, industries, conversion events, call outcomes."""

from __future__ import annotations

FIRST_NAMES = (
    "James", "Maria", "Robert", "Linda", "Michael", "Sarah", "David", "Karen", "William", "Nancy", "Richard",
    "Lisa", "Joseph", "Betty", "Thomas", "Sandra", "Charles", "Ashley", "Chris", "Kim", "Anil", "Mei", "Yuki",
    "Lars", "Ingrid", "Pierre", "Camille", "Hans", "Greta", "Diego", "Lucia", "Aisha", "Kofi", "Ravi", "Ananya",
    "Tom", "Zoe", "Felix", "Nina", "Omar",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Moore", "Jackson", "Lee", "Harris", "Clark",
    "Schmidt", "Muller", "Dubois", "Laurent", "Jansen", "Svensson", "Murphy", "Kelly", "Sato", "Suzuki",
    "Chen", "Wang", "Singh", "Gupta", "Okafor", "Novak", "Rossi", "Costa", "Fischer", "Evans",
)
JOB_TITLES = (
    "VP Sales", "Head of Revenue Operations", "Marketing Manager", "CFO", "CTO", "Director of Sales",
    "Sales Operations Analyst", "Founder & CEO", "Growth Lead", "IT Manager", "Procurement Specialist",
    "Head of Customer Success", "Data Engineer", "Product Manager", "Controller",
)
COMPANY_WORDS = (
    "Acme", "Northwind", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Soylent",
    "Cyberdyne", "Tyrell", "Wonka", "Aperture", "Blue Sun", "Gringotts", "Oscorp", "Massive", "Monarch", "Zenith",
    "Pinnacle", "Summit", "Harbor", "Lumen", "Quantum", "Vertex", "Nimbus", "Polar", "Cobalt", "Evergreen",
)
COMPANY_SUFFIXES = (
    "Analytics", "Systems", "Labs", "Holdings", "Capital", "Health", "Logistics", "Retail", "Software",
    "Partners", "Group", "Bank", "Insurance", "Media", "Robotics",
)

# (country, weight, team by the portal's historical routing, cities)
COUNTRIES = (
    ("United States", 44, "North America", ("New York", "Austin", "Chicago", "Denver", "Seattle", "Boston")),
    ("Canada", 6, "North America", ("Toronto", "Vancouver", "Montreal")),
    ("Brazil", 1, "North America", ("Sao Paulo",)),
    ("Mexico", 1, "North America", ("Mexico City",)),
    ("United Kingdom", 9, "EMEA", ("London", "Manchester", "Edinburgh")),
    ("Germany", 6, "EMEA", ("Berlin", "Munich", "Hamburg")),
    ("France", 4, "EMEA", ("Paris", "Lyon")),
    ("Netherlands", 3, "EMEA", ("Amsterdam", "Rotterdam")),
    ("Spain", 2, "EMEA", ("Madrid", "Barcelona")),
    ("Sweden", 2, "EMEA", ("Stockholm",)),
    ("Ireland", 2, "EMEA", ("Dublin",)),
    ("Italy", 2, "EMEA", ("Milan", "Rome")),
    ("South Africa", 1, "EMEA", ("Cape Town",)),
    ("Australia", 5, "APAC", ("Sydney", "Melbourne")),
    ("Japan", 3, "APAC", ("Tokyo", "Osaka")),
    ("Singapore", 3, "APAC", ("Singapore",)),
    ("India", 4, "APAC", ("Bengaluru", "Mumbai")),
    ("New Zealand", 1, "APAC", ("Auckland",)),
)
US_STATES = {"New York": "NY", "Austin": "TX", "Chicago": "IL", "Denver": "CO", "Seattle": "WA", "Boston": "MA"}

# HubSpot's industry enumeration values (a subset)
INDUSTRIES = (
    ("COMPUTER_SOFTWARE", 18), ("INFORMATION_TECHNOLOGY_AND_SERVICES", 12), ("INTERNET", 8),
    ("FINANCIAL_SERVICES", 8), ("BANKING", 4), ("INSURANCE", 4), ("HOSPITAL_HEALTH_CARE", 7), ("RETAIL", 7),
    ("MARKETING_AND_ADVERTISING", 7), ("MANAGEMENT_CONSULTING", 6), ("LOGISTICS_AND_SUPPLY_CHAIN", 5),
    ("TELECOMMUNICATIONS", 4), ("HIGHER_EDUCATION", 4), ("MACHINERY", 3),
)
FINTECH_INDUSTRIES = frozenset({"FINANCIAL_SERVICES", "BANKING", "INSURANCE"})

# conversion events: (name, is a demo request under the default policy)
DEMO_EVENTS = (
    "Demo Request", "Request a Demo - Pricing Page", "Book a demo (product tour)", "Talk to Sales",
    "Contact Sales",
)
OTHER_MQL_EVENTS = (
    "Ebook: The RevOps Playbook", "Webinar: Pipeline Hygiene 101", "Pricing Page Chat", "Free Trial Signup",
    "Comparison Guide: Us vs. Competitor", "Case Study Download: Fintech", "Contact Us",
)
NURTURE_EVENTS = ("Newsletter Signup", "Blog Subscription", "Ebook: State of Sales 2026", "Webinar: Forecasting")

ANALYTICS_SOURCES = (
    "ORGANIC_SEARCH", "PAID_SEARCH", "DIRECT_TRAFFIC", "SOCIAL_MEDIA", "REFERRALS", "EMAIL_MARKETING", "OFFLINE",
)

# HubSpot's default call disposition ids
CALL_OUTCOMES = (
    ("COMPLETED", "f240bbac-87c9-4f6e-bf70-924b57d47db7"),  # connected
    ("NO_ANSWER", "73a0d17f-1163-4015-bdd5-ec830791da20"),  # no answer
    ("BUSY", "9d9162e7-6cf3-4944-bf63-4dff82258764"),  # busy
    ("COMPLETED", "b2cf5968-551e-4856-9783-52b3da59a7d0"),  # left voicemail
    ("COMPLETED", "a4c4c377-d246-4b32-a13b-75a56a4cd0ff"),  # left live message
    ("FAILED", "17b47fee-58de-441e-a44c-c6300d46f273"),  # wrong number
)
EMAIL_SUBJECTS = (
    "Following up on your demo request", "Quick question about your pipeline", "Pricing for {company}",
    "Re: your question", "Intro: {company} x Handoff", "Resources from the webinar", "Next steps",
)
MEETING_TITLES = ("Discovery call", "Product demo", "Pricing review", "Technical deep dive", "Intro call")
CHANNELS = ("SMS", "WHATS_APP", "LINKEDIN_MESSAGE")
DEAL_STAGES_OPEN = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
                    "contractsent")
