"""Synthetic council papers for benchmarks: seeded, deterministic, and hard distractors for the corpus.

Four kinds of paper (cabinet member updates, committee minutes, reports, press releases) about
children's services in invented English councils, 2015-2025, written from several hundred sentence
templates in the register of corpus/ (Ofsted, improvement boards, fostering, SEND, care leavers,
budgets in £, ...). Document i depends only on (seed, i), so a corpus of 2,000 starts with the corpus
of 200. Councils, people and figures are invented; no text names Sefton or its officers.

Run: `.venv/bin/python bench/synthetic.py OUT_FOLDER --n 2000 --seed 0` writes the papers and a
manifest.toml that `council-assistant ingest OUT_FOLDER` reads. For indexes of 100k-1M chunks without
files, `chunk_records` streams chunk-sized texts with a topic label (1M in about 8 s on 2 cores).
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DOC_TYPES = ("cabinet-member-update", "minutes", "report", "press-release")
_DOC_TYPE_WEIGHTS = (25, 25, 20, 30)
_ID_PREFIX = {"cabinet-member-update": "cmu", "minutes": "minutes", "report": "report",
              "press-release": "press"}
FIRST_YEAR, LAST_YEAR = 2015, 2025
CHUNK_MIN_WORDS, CHUNK_MAX_WORDS = 60, 90
_POOL_SENTENCES_PER_TOPIC = 800
_POOL_TITLES_PER_TOPIC = 60
_MAX_POOL_SENTENCE_WORDS = CHUNK_MAX_WORDS - CHUNK_MIN_WORDS


@dataclass(frozen=True)
class SyntheticDocument:
    """One invented paper: the metadata a manifest entry carries, and its text."""

    doc_id: str
    title: str
    date: str
    doc_type: str
    council: str
    committee: str | None
    text: str
    source: str

    @property
    def file_name(self) -> str:
        return f"{self.doc_id}.txt"


@dataclass(frozen=True)
class Topic:
    """The templates of one subject: body sentences, first-person quotes, headings, titles, minutes."""

    name: str
    headings: tuple[str, ...]
    subjects: tuple[str, ...]
    headlines: tuple[str, ...]
    facts: tuple[str, ...]
    quotes: tuple[str, ...]
    concerns: tuple[str, ...]
    actions: tuple[str, ...]


# --- Invented places and people -------------------------------------------------------------------

_COUNCIL_NAMES = (
    "Harlow Vale", "Ashcombe", "Brackenfield", "Colverton", "Dunmere", "Eastholme", "Fernleigh",
    "Greyhaven", "Hartwell Moor", "Inglethorpe", "Kestonbury", "Lowick Vale", "Marlow Cross",
    "Northwick", "Oakhampstead", "Pelham Moor", "Queensbridge", "Ravensmere", "Saltmarsh Vale",
    "Thornbury Heath", "Upton Lees", "Wexcombe", "Whitmoor", "Yarrowdale", "Aldercliffe",
    "Barrowmead", "Calder Heath", "Denholm Park", "Elmstead Vale", "Glenhurst", "Hollinsbrook",
    "Kingsmere", "Lowerdale", "Millbrook Vale", "Netherfield Cross", "Orchard Vale", "Priorsford",
    "Redmarsh", "Stanbridge Moor", "Wyndham Vale",
)
_COUNCIL_FORMS = ("{} Council", "{} Borough Council", "{} Metropolitan Borough Council", "{} Council")
COUNCILS: tuple[tuple[str, str], ...] = tuple(
    (name, _COUNCIL_FORMS[i % len(_COUNCIL_FORMS)].format(name)) for i, name in enumerate(_COUNCIL_NAMES))
_REGIONS = ("Pennine Edge", "Wealden Coast", "Severn Plain", "Trent Vale", "Solent Shore",
            "Calder and Aire", "North Moors", "Fenland Coast")

FIRST_NAMES = (
    "Alison", "Andrew", "Angela", "Anthony", "Barbara", "Bernard", "Bethan", "Carl", "Catherine",
    "Christine", "Colin", "Daniel", "David", "Deborah", "Denise", "Donna", "Edward", "Eileen",
    "Emma", "Fiona", "Frances", "Gareth", "Gemma", "Gillian", "Graham", "Helen", "Ian", "Jacqueline",
    "James", "Janet", "Jason", "Jennifer", "John", "Julie", "Karen", "Kathryn", "Keith", "Kevin",
    "Laura", "Leanne", "Linda", "Louise", "Malcolm", "Margaret", "Mark", "Matthew", "Michelle",
    "Neil", "Nicola", "Owen", "Patricia", "Paul", "Pauline", "Peter", "Rachel", "Rebecca", "Richard",
    "Robert", "Ruth", "Samantha", "Sarah", "Sharon", "Simon", "Sonia", "Stephen", "Stuart", "Susan",
    "Tariq", "Tessa", "Thomas", "Tracey", "Vanessa", "Wendy", "Yasmin", "Aisha", "Priya", "Imran",
    "Nadia", "Declan", "Siobhan", "Rhys", "Megan",
)
LAST_NAMES = (
    "Ainsworth", "Ashworth", "Bamford", "Barraclough", "Bentley", "Blackwood", "Bradshaw",
    "Brennan", "Calloway", "Carver", "Chadwick", "Cheung", "Crossley", "Dawson", "Dempsey", "Dobson",
    "Ellison", "Fairbrother", "Fenwick", "Fletcher", "Garside", "Greenhalgh", "Halliwell", "Hargreaves",
    "Haworth", "Holroyd", "Hussain", "Ingram", "Jarvis", "Kaur", "Kendrick", "Kershaw", "Lambert",
    "Latham", "Lomax", "Marsden", "Mellor", "Metcalfe", "Moorcroft", "Nuttall", "Okafor", "Ormerod",
    "Pickering", "Prendergast", "Quinlan", "Radcliffe", "Rahman", "Rigby", "Rushton", "Sanderson",
    "Sharples", "Sutcliffe", "Tattersall", "Thackeray", "Threlfall", "Tomlinson", "Varley", "Wadsworth",
    "Walmsley", "Whiteley", "Whittaker", "Wilde", "Winstanley", "Yates", "Adebayo", "Kowalski",
    "Nowak", "Patel", "Singh", "Ahmed", "O'Neill", "Gallagher",
)
_HOMES = ("Larch Road", "Meadow View", "Willow House", "Hawthorn Lodge", "Rowan Close", "Beech Grove",
          "Maple House", "Elm Lodge", "Ashfield House", "Oakwood", "Hazel Court", "The Laurels")
_CHILDREN_IN_CARE_COUNCILS = ("Voices Matter", "Our Voice", "Speak Out", "Young Voices",
                              "Total Respect", "Hear Us", "Shout Out")
_PRACTICE_MODELS = ("Signs of Safety", "Family Safeguarding", "Restorative Practice",
                    "Strengthening Families", "Systemic Practice", "Safe and Together", "Family Valued")
_PORTFOLIOS = ("Children's Social Care", "Children's Services", "Children's Services (Social Care)",
               "Children, Schools and Families", "Children and Young People")
_SCRUTINY = ("Overview and Scrutiny (Children's Services and Safeguarding)",
             "Overview and Scrutiny Committee (Children and Young People)",
             "Children's Services Scrutiny Committee",
             "Children, Young People and Families Scrutiny Panel")
_RATINGS = ("inadequate", "requires improvement to be good", "good", "outstanding")
_RATING_WEIGHTS = (30, 40, 25, 5)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NUMBER_WORDS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                 "twelve")

# --- Topics ---------------------------------------------------------------------------------------

TOPICS: tuple[Topic, ...] = (
    Topic(
        name="ofsted",
        headings=("Ofsted update", "Ofsted inspection", "Inspection of Local Authority Children's Services",
                  "Ofsted focused visit", "Ofsted monitoring visit", "Inspection outcome"),
        subjects=("Ofsted Inspection of Local Authority Children's Services: Outcome and Response",
                  "Ofsted Focused Visit: Findings and Next Steps", "Ofsted Monitoring Visit Feedback",
                  "Preparation for the Inspection of Local Authority Children's Services"),
        headlines=("{council} Council responds to “{rating}” Ofsted rating",
                   "Ofsted rates {council} children's services as “{rating}”",
                   "{council} children's services judged “{rating}” following Ofsted inspection",
                   "Ofsted monitoring visit finds progress in {council} children's services",
                   "Council welcomes Ofsted feedback on children's services in {council}"),
        facts=(
            "Children's services received their notice of inspection on the {inspect_date}, which was a {inspect_weeks} week inspection under the ILACS (Inspection of Local Authority Children's Services) framework.",
            "The report will be published in {report_month_year}.",
            "The feedback has highlighted the dedication of the workforce and our thanks [is|are] given to all staff who have supported throughout the inspection.",
            "{council} Council has received the latest report following Ofsted's Inspection of Local Authority Children's Services (ILACS), which was carried out over a {inspect_weeks}-week period in {inspect_month_year}.",
            "The report concluded that {council}'s Children's Services at that time were rated as “{rating_cap}”.",
            "This follows an Ofsted [focused visit|monitoring visit|visit] in {visit_month_year} which highlighted areas in need of improvement.",
            "Inspectors found that [children at risk of harm are identified and responded to quickly|the response to children at risk of immediate harm is timely|management oversight of casework is not yet consistent|the quality of assessments remains too variable].",
            "Ofsted has acknowledged the improvements [made|achieved] since the [last|previous] inspection, but these improvements have not been fast enough in some parts of the service.",
            "Inspectors did not find any children at risk of immediate harm.",
            "The overall effectiveness of children's services was judged to be {rating}, compared with {prev_rating} at the previous inspection in {prev_inspect_year}.",
            "The inspection looked at the experiences and progress of children in need of help and protection, children in care and care leavers.",
            "Ofsted's [monitoring|focused] visit in {visit_month_year} looked at the arrangements for [children in care|care leavers|the front door|children subject to child protection plans|permanence planning].",
            "Inspectors [spoke to|met with] {n} social workers and [reviewed|sampled] {n_large} [case files|children's records] during the inspection.",
            "The inspection report [made|contains] {n_small} recommendations, the most significant of which [concerns|relates to] permanence planning for children in care.",
            "The judgement for the experiences and progress of care leavers was {rating}.",
            "The leadership judgement was {rating}, reflecting [the pace of change|the stability of the senior team|the quality of performance information] [since the last inspection|over the last year].",
            "An action plan responding to the recommendations must be submitted to Ofsted within 70 working days of the publication of the report.",
            "Preparation for inspection [forms part of|is included in] the improvement work, with [mock inspections|practice week audits|case file audits] taking place [each quarter|monthly|in the spring].",
            "Ofsted has recognised how changes over the last year are starting to make a positive difference in areas such as the [Multi-Agency Safeguarding Hub|Fostering Service|Leaving Care Service|Children with Disabilities team].",
            "The next full inspection is expected [in|by] {next_year}, with monitoring visits every [three|four|six] months in the meantime.",
            "A letter from Ofsted setting out the findings of the focused visit was published on {past_date}.",
            "The self-evaluation of social work practice was shared with Ofsted at the annual engagement meeting in {month_any}.",
            "Inspectors noted that too many children [experience drift and delay in their plans|wait too long for a permanent home|have had several changes of social worker].",
            "{council} was one of {n_small} local authorities in the {region} area inspected under the [new|revised] framework in {year}.",
            "Inspectors highlighted [the stability of the workforce|the quality of direct work with children|the commitment of frontline staff] as a strength of the service.",
        ),
        quotes=(
            "Whilst we are [very|deeply] disappointed about the overall outcome of the inspection, Ofsted has acknowledged the improvements we have made since [the last inspection|{prev_year}].",
            "We accept the findings of the report, and we are [absolutely|fully] ready and willing to take these recommendations on board, learn, and improve.",
            "We take Ofsted's findings incredibly seriously and we have already started making changes in response to the report.",
            "Improving our service is not just about improving the Ofsted rating, it's about making sure children benefit from the best services possible.",
            "I am [delighted|pleased|proud] that inspectors recognised the hard work of our social workers and the difference it is making to children's lives.",
            "The report is a fair reflection of where we are, and it gives us a clear list of what we must do next.",
            "Inspectors saw for themselves the commitment of our staff, and I want to thank every one of them.",
            "We knew from our own self-assessment that there was much work to do, and the report confirms that.",
            "This judgement is a [milestone|significant step] on our improvement journey, but we are not complacent.",
            "Our main area for improvement must now focus on the need for better permanence planning for cared for children.",
        ),
        concerns=("the timescale for publication of the Ofsted report",
                  "the recommendations on permanence planning",
                  "how the service would prepare for the next monitoring visit",
                  "the consistency of management oversight identified by inspectors",
                  "how the findings would be shared with partners and families"),
        actions=("note the outcome of the Ofsted inspection and the proposed response",
                 "receive the post-inspection action plan at the next meeting",
                 "record its thanks to all staff who supported the inspection",
                 "request an update from the Cabinet Member following the next monitoring visit"),
    ),
    Topic(
        name="improvement",
        headings=("Improvement Board", "Improvement journey", "Improvement plan",
                  "Progress against the improvement notice", "DfE support"),
        subjects=("Children's Services Improvement Plan: Progress Update",
                  "Improvement Notice and the Children's Improvement Board", "Post-Inspection Action Plan",
                  "Children's Services Transformation Programme"),
        headlines=("{council} children's services improvement plan [agreed|approved] by Cabinet",
                   "Improvement Board to oversee changes to {council} children's services",
                   "{council} sets out next steps after improvement notice",
                   "Progress [reported|made] on {council} children's services improvement journey"),
        facts=(
            "Children's Services continues with pace on their improvement journey, following the improvement notice which was issued by the Department for Education (DfE) in {notice_month_year}.",
            "The Improvement Board has convened on {n_word} occasions and is held [monthly|every six weeks|quarterly].",
            "The Board is independently chaired by {chair} and is attended by both Lead Members, Councillor {cllr} and Councillor {cllr2}, and by key statutory partners for Health, Police and Schools.",
            "The board shares and scrutinises improvement activity across the whole function of Children's Services and the children's workforce.",
            "An experienced DfE Advisor has been appointed, {advisor}, who attends the board and provides both support and independent evaluation of the improvement work.",
            "Although it is early days, initial evaluation by the DfE advisor has been [cautiously encouraging|positive|encouraging] and recognised the [accuracy of the diagnostic work|pace with which the workstreams are being progressed].",
            "The improvement work is designed to provide long term sustainable change in quality and therefore runs wider than frontline social work practice.",
            "There are {n_small} workstreams in the improvement plan, covering [practice quality, workforce, partnerships and performance|the front door, permanence, care leavers and workforce|leadership, quality assurance, sufficiency and the voice of the child].",
            "There are plans in place for a range of peer review and evaluation work across the [Autumn|Spring|Summer|Winter] which will test out improvement and changes to quality.",
            "A post-inspection action plan was submitted to Ofsted on {past_date} and is monitored by the Improvement Board.",
            "The improvement notice sets out {n_small} areas where the Council must improve, including [management oversight|the quality of assessments|the timeliness of child protection enquiries|permanence planning].",
            "Following on from the series of staff workshops in {month_any} a more formal staff engagement group has been established to provide equal representation of frontline staff and their views.",
            "Representatives from the staff engagement group also attend the formal board.",
            "The Department for Education has [provided|agreed] {money_k} of improvement funding to support the work of the transformation team.",
            "A partner in practice, {partner} Council, is providing sector-led support [through peer challenge|with practice development|to the front door].",
            "Progress against the improvement plan is reported to the Overview and Scrutiny Committee every [quarter|six months].",
            "Of the {n} actions in the improvement plan, {n_small} are complete, most are on track and {n_small} are rated amber.",
            "The DfE Advisor's [six-monthly|latest] review letter to the Minister noted [steady|clear|positive] progress but said that the pace of change must increase.",
            "A performance dashboard is now reviewed [weekly|monthly] by the senior leadership team and shared with the Improvement Board.",
            "The improvement work also includes preparation for inspection.",
            "A transformation team has been in place since {month_year_prev} to drive the improvements across the service.",
            "The Lead Members continue to have a full induction programme which provides opportunity to meet staff, service users and partners.",
            "An external [diagnostic|review] commissioned in {month_year_prev} found that [demand had outstripped capacity|practice standards were inconsistent|the front door was not working as it should].",
            "The improvement notice will be reviewed by the Minister in {next_month_year}, taking account of the Improvement Board's assessment of progress.",
            "The independent chair of the Improvement Board, {chair}, [reported|wrote] to the Department for Education in {month_year} that progress was [sustained|uneven|encouraging].",
        ),
        quotes=(
            "The next step will be to continue working with our Improvement Board and support from the Department for Education to deliver our action plan.",
            "We have a committed and skilled workforce, dedicated to working on behalf of our children.",
            "We acknowledge the issues and challenges that have been raised, and are committed to facing these head on.",
            "There is still much work to do, but we are confident that our ambitious plans can be delivered, and improvements made at pace.",
            "Our children and young people will remain at the heart of everything we do.",
            "The Improvement Board gives us independent challenge, and that is exactly what we need.",
            "I can assure families, children and young people across {council} that we are determined to deliver the high-quality, responsive service they rightly expect.",
            "We need to make immediate improvements, and our existing staff need to see immediate relief in capacity.",
            "We are aware of the need to focus on the management of the service and already have a new leadership team in place to drive the improvements.",
            "The advice of the DfE has been invaluable and we will keep working closely with them.",
        ),
        concerns=("the pace of progress against the improvement notice",
                  "how frontline staff were involved in the Improvement Board",
                  "the actions rated amber in the improvement plan",
                  "what the DfE Advisor had said about progress"),
        actions=("note the progress made against the improvement plan",
                 "endorse the revised improvement plan for submission to the Department for Education",
                 "receive quarterly progress reports from the Improvement Board",
                 "note the findings of the DfE Advisor's review"),
    ),
    Topic(
        name="commissioner",
        headings=("Commissioner review", "Statutory direction", "DfE commissioner"),
        subjects=("Appointment of a Children's Services Commissioner",
                  "Statutory Direction and Commissioner's Report",
                  "Response to the Commissioner's Recommendations"),
        headlines=("Council respond to appointment of government commissioner to review children's services",
                   "{council} welcomes commissioner's report on children's services",
                   "Government commissioner to review {council} children's services",
                   "Children's services to remain under {council} control, commissioner recommends"),
        facts=(
            "{council} Council has said it welcomes the appointment of a government commissioner to review children's services on behalf of the Secretary of State for Education.",
            "The review will seek to decide whether {council} Council has the capacity and capability to secure rapid and sustainable improvements.",
            "The commissioner, {commissioner}, will consider whether the service should be taken out of the Council's control and run by [a children's trust|an alternative delivery model].",
            "The commissioner will work alongside the DfE Advisor who has been in place since {month_year_prev}.",
            "The commissioner's report is due to be submitted to the Secretary of State by {next_month_year}.",
            "A statutory direction was issued by the Secretary of State on {past_date} following the {rating} Ofsted judgement.",
            "The commissioner has [met|interviewed] the Leader, the Chief Executive, Lead Members and frontline staff as part of the review.",
            "In his letter to the Council the Parliamentary Under Secretary of State for Children and Families recognised the challenges that local authorities face in delivering effective children's social care services.",
            "The commissioner recommended that children's services should remain under the Council's control, subject to [continued DfE oversight|an improvement partner|quarterly progress reviews].",
            "A review of the Council's capacity will be undertaken by the DfE during {year}.",
            "The commissioner's visits will take place every [three|four|six] months until the direction is lifted.",
            "The Council must [appoint|work with] an improvement partner agreed by the Department for Education under the terms of the direction.",
            "The commissioner [noted|found] that the Council had [a realistic understanding of its weaknesses|strong political support for improvement|made a significant financial commitment to children's services].",
            "The direction requires the Council to comply with any instructions of the Secretary of State in relation to the improvement of children's social care.",
            "The commissioner's report [was published|will be published] on the Department for Education's website.",
            "Options [considered|reviewed] by the commissioner included a [children's trust|partnership with a neighbouring authority|voluntary improvement partnership].",
            "The Leader of the Council, Councillor {leader}, wrote to the Minister to [confirm the Council's commitment to improvement|request additional support].",
            "The cost of the commissioner's work is met by the Department for Education.",
        ),
        quotes=(
            "We welcome the appointment of a commissioner, and appreciate the support and challenge that this role will bring.",
            "We understand that the Commissioner will review our plans and capacity to improve.",
            "We are hopeful that the commissioner will see a marked improvement in the delivery of our services each time they visit.",
            "I look forward to working with the commissioner to tackle the many challenges we face.",
            "I hope that the Commissioner is able to appreciate how this compounds an already difficult operating environment.",
            "The commissioner's recommendation is a vote of confidence in our staff and in our plans.",
            "We will cooperate fully with the review and share everything the commissioner needs.",
        ),
        concerns=("the timetable for the commissioner's report",
                  "whether children's services could be moved to a trust",
                  "the cost to the Council of the statutory direction"),
        actions=("note the appointment of the commissioner and the terms of the statutory direction",
                 "welcome the commissioner's recommendation that services remain under the Council's control",
                 "agree the Council's response to the commissioner's report"),
    ),
    Topic(
        name="workforce",
        headings=("Recruitment", "Workforce", "Recruitment and retention", "Social work week",
                  "Workforce development"),
        subjects=("Children's Social Care Workforce Strategy", "Recruitment and Retention of Social Workers",
                  "Reducing Reliance on Agency Social Workers",
                  "Market Supplements for Children's Social Workers"),
        headlines=("{council}'s Cabinet asked to approve {money_m}-plus of new social care roles",
                   "{council} launches drive to recruit permanent social workers",
                   "New pay offer to attract social workers to {council}",
                   "{council} cuts reliance on agency social workers"),
        facts=(
            "Recruitment across all levels of the service is currently underway including social workers, team managers and service managers.",
            "Recruitment events take place [monthly|every quarter|every six weeks], with market supplements in order to retain existing staff and golden hellos for new people joining {council}.",
            "{dcs_prev}, the interim Director of Children's Services, left post on {past_date}.",
            "{dcs}, who was appointed permanently, will commence in {next_month_year}; in the interim {adcs_interim} will be the acting Director of Children's Services.",
            "{adcs} will commence in post as Assistant Director of Safeguarding and Quality Assurance in {next_month_year} and is permanent.",
            "Agency social workers currently make up {agency_pct} of the workforce, compared with {pct} [a year ago|in {prev_fy}].",
            "Average caseloads for social workers in the assessment teams are now {caseload}, against a target of {caseload_target}.",
            "A further workstream involves workforce and organisational development across the whole workforce and not just social worker recruitment.",
            "We have had success in recruiting staff with strong improvement experience at middle and senior levels.",
            "There is a developing focus on continuous professional development which will form part of the {council} offer for recruitment and retention.",
            "The Cabinet is asked to approve {posts} additional posts at a cost of {money_m} over the next two years.",
            "The money due to be spent on extra staff forms part of the {invest} investment approved by Full Council earlier this year.",
            "A cohort of {n_small} newly qualified social workers joined the Assessed and Supported Year in Employment (ASYE) programme in {month_year}.",
            "Social work week [commences|takes place] on the {day_month}, with a focus on '[social work and me|proud to be a social worker|the voice of the child]'.",
            "There is a week of events and a celebration at [the Town Hall|the Civic Centre|{venue_short}] for our Children's Social Care staff.",
            "The turnover rate for children's social workers was {pct} in {prev_fy}, [above|below|close to] the regional average.",
            "The social work academy [has trained|will train] {n} practitioners [this year|in {fy}], with a focus on [direct work with children|writing for the child|assessment and analysis].",
            "Market supplements of {money_k_small} a year are paid to social workers in [frontline teams|the assessment service|child protection teams].",
            "The number of vacant social worker posts has fallen from {n} to {n_small} since {month_year_prev}.",
            "A regional memorandum of understanding on agency social worker pay has been signed by all councils in the {region} area.",
            "A new Principal Social Worker, {psw}, took up post in {month_year} and leads the practice standards work.",
            "Exit interviews show that [caseloads are|travel is|supervision is|pay is] the most common reason given by social workers for leaving.",
            "Agency spend on children's social care was {money_m} in {prev_fy}, and the aim is to reduce this by {pct} in {fy}.",
            "Team managers now hold [monthly|fortnightly] reflective supervision with every social worker, and compliance is {pct}.",
            "An international recruitment campaign has brought {n_small} experienced social workers to {council} since {month_year_prev}.",
            "We now have permanent staff in key positions at the frontline, including {n_small} team managers appointed since {month_year_prev}.",
        ),
        quotes=(
            "I am confident that the recruitment of these new posts to the Children's Social Care team will help ensure we make the improvements necessary.",
            "The level of demand for our services is unlike anything we have known before.",
            "We have made a call on Government, along with leaders from across the {region} area, to tackle growing issues nationally with the recruitment and retention of children's social workers.",
            "Our social workers do an extraordinary job, and we want {council} to be the place where they choose to build their careers.",
            "Reducing our reliance on agency staff is good for children, who need a social worker who knows them, and good for the taxpayer.",
            "Lower caseloads mean our social workers have the time and space to concentrate on quality direct work with families.",
            "Our existing staff need to see immediate relief in capacity and positive outcomes.",
            "Stable, permanent teams are the foundation of everything we want to achieve.",
        ),
        concerns=("the number of agency social workers", "caseloads in the assessment teams",
                  "the cost of market supplements", "the reasons social workers gave for leaving",
                  "vacancies among team managers"),
        actions=("approve the creation of {posts} additional social work posts at a cost of {money_m} over two years",
                 "note the progress made in reducing the number of agency social workers",
                 "approve the payment of market supplements to social workers in frontline teams",
                 "endorse the Children's Social Care Workforce Strategy"),
    ),
    Topic(
        name="budget",
        headings=("Budget", "Financial position", "Investment in children's services",
                  "Revenue budget monitoring"),
        subjects=("Children's Social Care Budget Monitoring {fy}", "Financial Strategy {next_fy}: Children's Services",
                  "Investment in Children's Social Care", "Placement Costs and the Children's Services Budget"),
        headlines=("{council} to invest {money_m} in children's social care",
                   "Extra {money_m} for children's services in {council} budget",
                   "{council} Council approves budget with new money for vulnerable children",
                   "Rising placement costs put pressure on {council} budget"),
        facts=(
            "During {fy}, the Council agreed a further circa {money_m} investment of both permanent and temporary funding in Children's Services.",
            "The forecast outturn for Children's Social Care is an overspend of {money_m}, mainly due to the cost of [external residential placements|agency staffing|independent fostering agency placements].",
            "The {money_m} due to be spent on extra staff forms part of the {invest} investment approved by Full Council in {month_year_prev}.",
            "The budget for {next_fy} includes {money_m} to meet demographic pressures and rising costs in the children's care market.",
            "The average weekly cost of an external residential placement is now {money_k_small}, compared with {money_k_small} in {prev_fy}.",
            "The number of children in external residential placements has [risen|increased] to {n}, at a full-year cost of {money_m}.",
            "The additional investment is to improve the service and help deal with the unprecedented increase in demand.",
            "Savings of {money_k} are expected from [the reduction in agency staff|bringing placements back in house|the new edge of care service] in {next_fy}.",
            "The Dedicated Schools Grant high needs block [shows|is forecast to show] a deficit of {money_m} at the end of {fy}.",
            "The Cabinet [is asked to|agreed to] release {money_k} from the transformation reserve to fund the improvement programme.",
            "Capital funding of {money_m} has been [approved|allocated] for [two new children's homes|the refurbishment of the family centres|the expansion of specialist school places].",
            "It is no secret that most local authorities continue to face severe financial challenges.",
            "The budget for Children's Social Care in {fy} is {money_m}, which is {pct} of the Council's net revenue budget.",
            "Spend on placements for children in care accounts for {pct} of the Children's Social Care budget.",
            "A grant of {money_k} from the Department for Education will fund [the Family Hubs programme|the Supporting Families programme|the care leavers' local offer] until {next_year}.",
            "The Executive Director of Corporate Resources, {finance}, has confirmed that the proposals can be met from the approved budget.",
            "The revenue budget monitoring report for [quarter one|quarter two|quarter three|month six|month nine] shows a pressure of {money_m} in Children's Services.",
            "The financial strategy for {next_fy} assumes that the number of children in care will [stabilise|fall|continue to rise] over the next three years.",
            "Members noted that the additional resources are in recognition of the demographic pressures facing the service and rising costs.",
            "The cost of the new posts will be met from the {invest} growth agreed in the budget for {fy}.",
            "The Council has contributed {money_k} to the regional [fostering recruitment hub|commissioning framework|adoption agency] in {fy}.",
            "The overspend on children's placements in {fy} was partly offset by {money_k} of one-off grant funding.",
        ),
        quotes=(
            "During {fy} we have put an extra {money_m} into the budget to increase the numbers of social workers, better support foster families, and improve safeguarding and edge of care services.",
            "Demand is at unprecedented levels, which is why the Council will continue to call on Government for additional resources.",
            "This investment shows how seriously we take our responsibilities to the children of {council}.",
            "Every pound we spend must make a difference to a child's life.",
            "We have protected children's services from cuts, but the cost of care is rising faster than any council can afford.",
            "With the significant financial investment that the Council has recently committed to Children's Services, our ambitious plans can be delivered.",
        ),
        concerns=("the forecast overspend on children's placements", "the deficit in the high needs block",
                  "the cost of external residential placements", "how the savings would be achieved"),
        actions=("note the forecast outturn position for Children's Social Care",
                 "approve additional investment of {money_m} in Children's Social Care for {next_fy}",
                 "approve the release of {money_k} from the transformation reserve",
                 "recommend the Children's Services budget for {next_fy} to Council"),
    ),
    Topic(
        name="fostering",
        headings=("Fostering", "Fostering Friendly", "Foster carer recruitment", "Kinship care"),
        subjects=("Fostering Service Annual Report {fy}", "Foster Carer Allowances and Fees",
                  "Fostering Recruitment and Retention Strategy", "Kinship Care Offer"),
        headlines=("{council} needs more foster carers, council says",
                   "{council} becomes a Fostering Friendly borough",
                   "Foster carers in {council} to receive higher allowances",
                   "{council} launches campaign to find foster families"),
        facts=(
            "{council} is developing a Fostering Friendly Borough agenda, designed to recruit, retain and support new and existing foster carers.",
            "The in-house fostering service currently has {carers} approved foster carer households, caring for {n_large} children.",
            "In {fy}, {n_small} new fostering households were approved, against a target of {n}.",
            "The Fostering Panel [meets|met] {n_small} times [a month|in the year] and is chaired by an independent chair.",
            "Foster carer allowances will increase by {pct} from {next_month_year}, in line with the national minimum allowance.",
            "The Mockingbird model, in which a hub carer supports a constellation of [six|eight|ten] fostering families, [will launch|launched] in {month_year}.",
            "Kinship arrangements and special guardianship orders are being supported through a new kinship team.",
            "The number of children placed with independent fostering agencies has [fallen|risen] to {n}, at an average weekly cost of {money_k_small}.",
            "A council tax reduction for in-house foster carers [was agreed|has been introduced] to support retention.",
            "Enquiries from prospective foster carers have [increased|fallen] by {pct} compared with {prev_fy}.",
            "The fostering service [was praised|was recognised] by Ofsted for the quality of its support to carers.",
            "Foster carers have access to a [24-hour support line|peer support group|dedicated supervising social worker] and a programme of training.",
            "The Fostering Service annual report sets out that {n_small} foster carers retired or resigned during {fy}.",
            "{head_fostering}, Head of Fostering, [presented|introduced] the annual report and the Statement of Purpose for the fostering service.",
            "Staying Put arrangements allow young people to remain with their foster carers beyond the age of 18, and {n_small} young people are currently in such arrangements.",
            "A regional fostering recruitment hub for the {region} area [will open|opened] in {month_year} to attract more carers across the area.",
            "The average time from enquiry to approval for foster carers is {weeks} weeks.",
            "The Council's fostering recruitment campaign, '[Foster for {council}|Could you foster?|Open your home]', ran across social media and local radio in {month_any}.",
            "The Fostering Friendly Employer scheme gives council staff who foster [up to five days'|additional] paid leave.",
            "Children placed with in-house foster carers make up {pct} of all fostering placements.",
            "Some of the priorities will be met by the workstreams in the improvement work including more of a focus on in-house fostering and Kinship arrangements.",
        ),
        quotes=(
            "Our foster carers are remarkable people, and we want to make sure they feel valued and supported.",
            "We need more families in {council} who can open their homes to children who need them.",
            "Becoming a Fostering Friendly borough shows our commitment to the carers who look after our children.",
            "Every child deserves to grow up in a loving family, and our foster carers make that possible.",
            "Better support for foster families is one of the priorities for the extra investment.",
            "If you have ever thought about fostering, now is the time to get in touch.",
        ),
        concerns=("the number of foster carers who had resigned", "the use of independent fostering agencies",
                  "the level of foster carer allowances", "support for kinship carers"),
        actions=("approve an increase of {pct} in foster carer allowances from {next_month_year}",
                 "note the Fostering Service annual report and approve the Statement of Purpose",
                 "endorse the Fostering Recruitment and Retention Strategy",
                 "support the Fostering Friendly Borough agenda"),
    ),
    Topic(
        name="adoption",
        headings=("Adoption", "Regional adoption agency", "Permanence", "Special guardianship"),
        subjects=("Adoption Service Annual Report {fy}", "Regional Adoption Agency Performance",
                  "Permanence Planning for Children in Care"),
        headlines=("{council} adoption service praised by regional agency",
                   "Families sought to adopt brothers and sisters in {council}",
                   "National Adoption Week: {council} celebrates adoptive families"),
        facts=(
            "The regional adoption agency, Adoption {region}, [approved|matched] {n} adopters in {fy}.",
            "{n_small} children were adopted from care in {fy}, compared with {n_small} in {prev_fy}.",
            "The average time between a child entering care and moving in with their adoptive family is {n_days} days, against the national average of {n_days} days.",
            "Children who wait longest for adoption include brothers and sisters, older children and children with additional needs.",
            "The Adoption Panel [considered|approved] {n_small} matches [in the last quarter|during the year].",
            "Our main area for improvement must now focus on the need for better permanence planning for cared for children, to ensure that all children know what their long-term plan is.",
            "A permanence tracking panel now reviews every child's plan at the [four-month|second] review.",
            "Special guardianship orders were granted for {n_small} children in {fy}, and special guardians receive an allowance and support plan.",
            "Early permanence placements, sometimes called foster to adopt, were used for {n_small} babies this year.",
            "The adoption support fund [paid for|funded] therapeutic support for {n} families in {fy}.",
            "National Adoption Week takes place in {month_any}, and the regional agency is holding information events in {council}.",
            "The number of children with a placement order waiting for adoption is {n_small}.",
            "Life story work is completed for every child before they move to their adoptive family.",
            "Court proceedings are now concluded in an average of {weeks} weeks, [close to|above|below] the 26-week target.",
        ),
        quotes=(
            "Every child should know what their long-term plan is, so that they feel safe and secure about their future.",
            "Adoption changes lives, and we are grateful to every family who comes forward.",
            "We want more children to find a permanent home without delay.",
            "Permanence is the thread that runs through all of our improvement work.",
        ),
        concerns=("the time children waited for adoption", "the number of special guardianship orders",
                  "the performance of the regional adoption agency"),
        actions=("note the Adoption Service annual report for {fy}",
                 "note the performance of the regional adoption agency",
                 "endorse the permanence planning improvements set out in the report"),
    ),
    Topic(
        name="send",
        headings=("SEND", "Special educational needs and disabilities", "Education, Health and Care Plans",
                  "Local area SEND inspection"),
        subjects=("SEND Strategy and Written Statement of Action", "Education, Health and Care Plan Timeliness",
                  "High Needs Block Recovery Plan", "Home to School Transport for Children with SEND"),
        headlines=("Ofsted and CQC inspection of SEND services in {council}",
                   "{council} to create {n} new specialist school places",
                   "Improvement in Education, Health and Care Plan timeliness in {council}",
                   "New SEND strategy for {council} children and families"),
        facts=(
            "A joint Ofsted and Care Quality Commission inspection of the local area's SEND arrangements took place in {inspect_month_year}.",
            "The inspection found [significant weaknesses|widespread and systemic failings|inconsistent experiences and outcomes] and a Written Statement of Action was required.",
            "Only {pct} of new Education, Health and Care Plans were issued within 20 weeks in {fy}, against a national average of {pct}.",
            "The number of children and young people with an Education, Health and Care Plan has [risen|grown] to {ehcp}, an increase of {pct} in a year.",
            "The high needs block of the Dedicated Schools Grant is forecast to overspend by {money_m} in {fy}.",
            "{n} new specialist places are being created [in resourced provision attached to mainstream schools|at the special school|through the free school programme].",
            "The SEND Partnership Board, chaired by [the Cabinet Member for Education|the Director of Children's Services], monitors progress against the Written Statement of Action.",
            "The Parent Carer Forum has been involved in [co-producing the SEND strategy|designing the new local offer website|reviewing the annual review process].",
            "Home to school transport for children with SEND will cost {money_m} in {fy}, {pct} more than budgeted.",
            "The Council has joined the Department for Education's Safety Valve programme to address the deficit in the high needs block.",
            "Annual reviews of Education, Health and Care Plans are now [completed|held] on time in {pct} of cases.",
            "The number of educational psychologists has increased to {n_small}, which has helped reduce waiting times for assessments.",
            "Children with special educational needs and disabilities are [more likely|twice as likely] to be excluded from school, and the inclusion team is working with schools to address this.",
            "The Short Breaks service supports {n_large} children with disabilities and their families.",
            "The revisit by Ofsted and CQC in {month_year} found [sufficient progress|that more progress was needed] in {n_small} of the areas of weakness.",
            "The SEND local offer website has been [redesigned|relaunched] following feedback from families.",
            "The Head of SEND, {head_send}, reported that the backlog of needs assessments had fallen to {n}.",
        ),
        quotes=(
            "Families have told us that the system is too hard to navigate, and we are listening.",
            "Every child with special educational needs deserves the right support at the right time.",
            "The rise in demand for Education, Health and Care Plans is a national issue, but that is no excuse for delay.",
            "These new places mean more children can be educated close to home.",
            "We are working hand in hand with parents and carers to make sure the new strategy reflects what matters to them.",
        ),
        concerns=("the timeliness of Education, Health and Care Plans", "the deficit in the high needs block",
                  "the cost of home to school transport", "waiting times for educational psychologists"),
        actions=("note progress against the Written Statement of Action",
                 "approve the SEND Strategy for {fy} to {next_fy}",
                 "approve the creation of {n} specialist places at a capital cost of {money_m}"),
    ),
    Topic(
        name="care-leavers",
        headings=("Care leavers", "Leaving care service", "Local offer for care leavers", "Pathway planning"),
        subjects=("Care Leavers' Local Offer", "Council Tax Exemption for Care Leavers",
                  "Care Leavers: Education, Employment and Training"),
        headlines=("{council} care leavers to be exempt from council tax",
                   "New apprenticeships for care leavers at {council} Council",
                   "{council} signs up to the Care Leaver Covenant"),
        facts=(
            "There are currently {leavers} care leavers aged 18 to 25 supported by the leaving care service.",
            "Care leavers living in {council} are exempt from council tax until their 25th birthday.",
            "{pct} of care leavers aged 19 to 21 are in education, employment or training, [compared with|against] a national average of {pct}.",
            "Every care leaver has a personal adviser and a pathway plan, and {pct} of pathway plans were reviewed on time in {fy}.",
            "The local offer for care leavers was refreshed in {month_year} following consultation with young people.",
            "{n_small} care leavers started apprenticeships with the Council this year through the ring-fenced apprenticeship scheme.",
            "The Council has signed the Care Leaver Covenant, which asks employers to offer work experience and jobs to care leavers.",
            "There is more of a focus on our offer for Care Leavers as part of the improvement work.",
            "{pct} of care leavers are in suitable accommodation, and the service is working with housing to increase supported accommodation.",
            "A care leavers' hub has opened in {council} town centre, offering drop-in advice on [housing, money and health|benefits, training and wellbeing].",
            "The setting up home allowance has been increased to {money_k_small} for each care leaver.",
            "Young people leaving care told inspectors that they [value their relationships with personal advisers|want more help to manage money|want to be involved in decisions about their housing].",
            "Free prescriptions and leisure passes [are now part of|have been added to] the local offer.",
            "The number of care leavers at university has risen to {n_small}, supported by a bursary from the Council.",
        ),
        quotes=(
            "As corporate parents we want our care leavers to have the same chances as any other young person.",
            "Exempting care leavers from council tax is a practical way to help them as they start out on their own.",
            "Young people told us what they needed, and the new local offer reflects what they said.",
            "No care leaver should face the world alone.",
        ),
        concerns=("the number of care leavers not in education, employment or training",
                  "suitable accommodation for care leavers", "the timeliness of pathway plans"),
        actions=("approve the refreshed local offer for care leavers",
                 "approve the council tax exemption for care leavers up to the age of 25",
                 "note the performance of the leaving care service"),
    ),
    Topic(
        name="corporate-parenting",
        headings=("Corporate Parenting", "Corporate Parenting Board", "Voice of the child",
                  "Children in Care Council"),
        subjects=("Corporate Parenting Board Annual Report", "Corporate Parenting Strategy {fy} to {next_fy}",
                  "Voice of Children and Young People in Care"),
        headlines=("Young people in care help shape {council} Corporate Parenting Strategy",
                   "{council} councillors pledge to be better corporate parents",
                   "Children in care celebrated at {council} awards"),
        facts=(
            "In the area of Corporate Parenting, the Corporate Parenting Board is adopting a champion model with key activity and task and finish projects to deliver outcomes for care experienced children.",
            "The Children in Care Council, '{cicc}', has been involved in shaping these projects.",
            "The Corporate Parenting Board is chaired by Councillor {cllr} and meets [every two months|quarterly|six times a year].",
            "There are currently {cic} children in the care of {council} Council, [an increase|a decrease] of {n} since {month_year_prev}.",
            "The rate of children in care is {rate} per 10,000 children, [above|well above|close to] the [national|regional|statistical neighbour] average.",
            "Every elected member has [completed|been offered] corporate parenting training, and {pct} have attended.",
            "The Pledge to children in care was [rewritten|refreshed] with young people in {month_year}.",
            "The annual celebration event for children in care took place at {venue_short} in {month_any}, with {n} young people attending.",
            "Councillors act as champions for [health|education|housing|participation|employment] and report to the Board on progress.",
            "The Virtual School Head, {virtual_head}, reported that {pct} of children in care have an up-to-date Personal Education Plan.",
            "{pct} of children in care had an up-to-date health assessment at the end of {fy}.",
            "Children in care told the Board that [they want fewer changes of social worker|they want to see their brothers and sisters more|they want their views to be strong in their care plans].",
            "The Corporate Parenting Strategy sets out [five|six|seven] priorities agreed with young people.",
            "The number of children in care placed more than 20 miles from home is {n}, and reducing this is a priority of the sufficiency strategy.",
            "Independent Reviewing Officers chaired {pct} of children in care reviews within timescales in {fy}.",
        ),
        quotes=(
            "Every councillor is a corporate parent, and we should want for children in care what we want for our own children.",
            "The voices of children and young people will be strong in their care plans and in future Council consultation and engagement activity.",
            "Our children in care have told us what matters to them, and it is our job to act on it.",
            "It is vital that each and every one of them receives the support and care they need and deserve.",
        ),
        concerns=("the number of children in care placed outside the borough",
                  "attendance at corporate parenting training", "health assessments for children in care"),
        actions=("approve the Corporate Parenting Strategy for {fy} to {next_fy}",
                 "note the annual report of the Corporate Parenting Board",
                 "endorse the refreshed Pledge to children in care"),
    ),
    Topic(
        name="residential",
        headings=("Residential care", "Children's homes", "Sufficiency", "Placements"),
        subjects=("Children's Homes Sufficiency Strategy", "New Children's Homes Programme",
                  "Outcome of the Ofsted Inspection of {home}"),
        headlines=("{council} to open {n_small} new children's homes",
                   "Children's home in {council} closed after Ofsted inspection",
                   "{council} plans to bring children in care closer to home"),
        facts=(
            "An inspection of {home}, our residential home, took place in {inspect_month_year} and the findings were [unacceptable|serious|of concern].",
            "Immediate action was taken to suspend registration of the unit with the regulator and the home is no longer in use.",
            "A consideration of options for residential care and different models of care is under way in {council}.",
            "The Council [plans to open|has opened] {n_small} new [two-bed|three-bed|four-bed] children's homes [over the next two years|in {year}] to reduce reliance on external placements.",
            "{home} was judged {rating_home} at its latest Ofsted inspection in {month_year_prev}.",
            "There are {n} children living in residential children's homes, of whom {n_small} are placed outside {council}.",
            "The Sufficiency Strategy sets out how the Council will ensure there are enough local homes for children in care.",
            "The number of children in unregistered placements has [fallen to|been reduced to] {n_small}, and each placement is reviewed weekly by the Director.",
            "The average weekly cost of a residential placement in {fy} was {money_k_small}, with the highest costing {money_k_small} a week.",
            "A new registered manager, {manager}, has been appointed to {home} following the inspection.",
            "The Council's [edge of care|crisis response] service has helped {n} young people to remain safely at home rather than enter care.",
            "Children's homes owned by the Council have {n_small} beds, and occupancy in {fy} was {pct}.",
            "A regional commissioning framework for residential placements [has been agreed|will start] with other councils in the {region} area.",
            "The home will reopen [as a short breaks home|as a two-bed home for children with complex needs|once a new registered manager is in post].",
        ),
        quotes=(
            "Children should live as close to home as possible, in homes that are good enough for our own children.",
            "When the findings at {home} were unacceptable, we acted immediately to keep children safe.",
            "Building our own children's homes means better care for children and better value for the taxpayer.",
            "The children's care market is not working for councils or for children.",
        ),
        concerns=("the closure of {home}", "the number of children in unregistered placements",
                  "the cost of residential placements outside the borough"),
        actions=("approve the Children's Homes Sufficiency Strategy",
                 "approve capital funding of {money_m} for new children's homes",
                 "note the action taken following the inspection of {home}"),
    ),
    Topic(
        name="safeguarding",
        headings=("Front door", "Multi-Agency Safeguarding Hub", "Demand", "Early help", "Child protection",
                  "Performance"),
        subjects=("Multi-Agency Safeguarding Hub Review", "Early Help Strategy",
                  "Children's Social Care Performance Report, {quarter_label}",
                  "Demand for Children's Social Care"),
        headlines=("Demand for children's services in {council} at unprecedented levels",
                   "New Family Hubs to open across {council}",
                   "{council} Safeguarding Children Partnership publishes annual report"),
        facts=(
            "Covid continues to shape some of our activity, including an increased demand for statutory services with children and families presenting with more complex needs than before the pandemic.",
            "The Multi-Agency Safeguarding Hub (MASH) received {n_large} contacts in {fy}, of which {pct} led to a referral to children's social care.",
            "There are {cp} children subject to a child protection plan, a rate of {rate} per 10,000 children.",
            "{pct} of assessments were completed within 45 working days in {month_any}, [up from|down from|compared with] {pct} in the previous quarter.",
            "The number of children in need has risen to {cin}, an increase of {pct} on the previous year.",
            "Re-referrals within twelve months are {pct}, [above|below|close to] the statistical neighbour average.",
            "Early Help services worked with {n_large} families in {fy}, and the new Family Hubs [will open|opened] in {month_year}.",
            "As part of the workstreams there is a plan to remodel parts of the children's structure so that needs can be met more appropriately at an earlier stage.",
            "Strategy discussions are now held within [one working day|24 hours] in {pct} of cases.",
            "In line with government guidelines we have continued to be more office based, taking appropriate measures for the health and safety of our staff.",
            "Investment has been made in new technology which allows 'in person' and joint virtual hybrid meetings to take place.",
            "The {council} Safeguarding Children Partnership [published|will publish] its annual report in {month_year}, setting out the work of the Council, Police and Health.",
            "A rapid review was held following a serious incident in {month_any}, and a Child Safeguarding Practice Review has been commissioned.",
            "Visits to children on child protection plans were within timescale in {pct} of cases in {month_any}.",
            "The proportion of children subject to a child protection plan for a second or subsequent time is {pct}.",
            "Demand for children's social care has increased by {pct} since {prev_year}, with the greatest rise in [domestic abuse|neglect|mental health|exploitation] referrals.",
            "The Complex Safeguarding team supports {n} young people at risk of [criminal exploitation|sexual exploitation|going missing].",
            "Return home interviews were offered to {pct} of children who went missing in {fy}.",
            "Domestic abuse is a factor in {pct} of referrals, and the Council has commissioned a new [perpetrator programme|support service for children].",
            "The [Leader|Chief Executive] receives a [weekly|monthly] performance report on the front door.",
        ),
        quotes=(
            "The Covid pandemic has had massive impacts on a large number of {council} families, many of whom are now in need of additional support.",
            "Demand for Children's Services is at unprecedented levels.",
            "Helping families earlier means fewer children need to come into care.",
            "Keeping children safe is the most important thing this Council does.",
            "These challenges have been magnified over the last [two|three] years, with demand for Children's Services at unprecedented levels.",
        ),
        concerns=("the rise in contacts to the Multi-Agency Safeguarding Hub",
                  "the timeliness of assessments", "the rate of re-referrals",
                  "the number of children subject to a child protection plan"),
        actions=("note the performance of the Multi-Agency Safeguarding Hub",
                 "approve the Early Help Strategy", "note the Children's Social Care performance report for {quarter_label}"),
    ),
    Topic(
        name="practice",
        headings=("Practice model", "{model} model of practice", "Quality assurance", "Practice framework"),
        subjects=("Introduction of the {model} Practice Framework",
                  "Quality Assurance Framework for Children's Social Care",
                  "Practice Standards in Children's Social Care"),
        headlines=("{council} adopts new {model} approach to working with families",
                   "{council} social workers trained in new model of practice"),
        facts=(
            "{council} has been exploring the introduction of a new practice framework and approach based upon '{model}' principles.",
            "The framework aims to bring significant change to the quality of practice and responses to children and families' needs across the organisation and partnership.",
            "The launch event took place on the {past_day_month}, which was well attended by [many of our partners|staff and partners|over {n} practitioners].",
            "Our vision and scope of planning will be a great opportunity for {council} to develop a strengths-based approach.",
            "{n} practitioners [have completed|will complete] training in the {model} model by {next_month_year}.",
            "Case file audits in {month_any} rated {pct} of cases as good or better, compared with {pct} in the previous [quarter|audit cycle].",
            "The Quality Assurance Framework sets out how audits, practice observations and feedback from families are used to improve practice.",
            "Practice weeks are held [every quarter|twice a year], when senior leaders observe practice and speak with families.",
            "Highly skilled social workers need the time and space to concentrate on quality direct work with families.",
            "The Principal Social Worker leads a monthly practice forum [open to all social workers|for team managers].",
            "Feedback from families is collected after every [assessment|child protection conference] and reported to the practice forum.",
            "The new model will be rolled out in [three|four] phases, starting with the [front door|assessment teams|children in care teams].",
            "A strengths-based approach aims to begin to safely reduce the high number of children who are in local authority care.",
            "Peer review by {partner} Council in {month_year} found that [practice is improving|direct work with children is strong|management oversight needs strengthening].",
        ),
        quotes=(
            "This new way of working puts families' strengths at the centre of everything we do.",
            "Good practice is about relationships, and this model gives our social workers the tools to build them.",
            "The launch of the new framework marks the start of a significant change in how we work with families.",
        ),
        concerns=("the cost of training in the new practice model", "the findings of recent case file audits",
                  "how families' feedback was used"),
        actions=("endorse the introduction of the {model} practice framework",
                 "note the findings of the quality assurance programme"),
    ),
)
TOPIC_NAMES: tuple[str, ...] = tuple(t.name for t in TOPICS)
_TOPIC = {t.name: t for t in TOPICS}

# Which topics a meeting of each body tends to take; the body's name in a resolution.
_MINUTES_BODIES = {
    "Cabinet": ("Cabinet", ("budget", "workforce", "residential", "fostering", "send", "improvement", "care-leavers")),
    "Corporate Parenting Board": ("the Board", ("corporate-parenting", "care-leavers", "fostering", "adoption", "residential")),
    "Council": ("Council", ("budget", "improvement", "commissioner", "ofsted")),
    "Children's Services Improvement Board": ("the Board", ("improvement", "ofsted", "workforce", "practice", "safeguarding", "commissioner")),
}

# --- Templates that belong to a kind of paper rather than a topic ----------------------------------

_MINUTES_INTRO = (
    "The Committee considered the report of the {officer_role} [on|in relation to] {item_subject}.",
    "Further to Minute No. {minute_ref} of the meeting held on {prev_meeting_date}, the Committee considered the report of the {officer_role} on {item_subject}.",
    "The Committee received a presentation from {officer}, {officer_role}, on {item_subject}.",
    "{officer}, {officer_role}, introduced the report on {item_subject} and highlighted the key points.",
    "The report of the {officer_role} provided an update on {item_subject}.",
)
_MINUTES_REPORTED = ("The report indicated that ", "The report advised that ", "It was reported that ",
                     "Members were advised that ", "The report explained that ")
_MINUTES_DISCUSSION = (
    "Members of the Committee asked questions and raised matters which were responded to as follows:",
    "Members raised concerns about {concern}.",
    "Councillor {member} asked about {concern}; in response, the {officer_role} said that {response}.",
    "In response to a question from Councillor {member} on {concern}, {officer} confirmed that {response}.",
    "Councillor {member} sought clarification on {concern} and was advised that {response}.",
    "A Member asked whether {concern} had been discussed with partners; the {officer_role} said that {response}.",
    "The Chair thanked {officer} for the report and for the work of the service.",
    "Councillor {member} welcomed the report but expressed concern at {concern}.",
    "Members noted the [progress|improvements] reported and asked that {concern} be kept under review.",
)
_RESPONSES = (
    "this would be reported to the next meeting", "a briefing note would be circulated to Members",
    "the service was working with partners on this", "figures would be provided after the meeting",
    "progress was being monitored by the Improvement Board",
    "the issue was recognised and was a priority in the improvement plan",
    "additional resources had been agreed to address it", "the position had improved since the report was written",
    "the Cabinet Member had raised the matter with the Department for Education",
    "a task and finish group would look at this in more detail",
)
_MINUTES_OPENING = (
    ("APOLOGIES FOR ABSENCE", ("Apologies for absence were received from Councillor {member} and Councillor {member}.",
                               "Apologies for absence were received from Councillor {member}.",
                               "There were no apologies for absence.")),
    ("DECLARATIONS OF INTEREST", ("No declarations of any disclosable pecuniary interests or personal interests were received.",
                                  "Councillor {member} declared a personal interest in Minute No. {minute_ref} as a foster carer for the Council and remained in the room.",
                                  "Councillor {member} declared a personal interest as a governor of a special school.")),
    ("MINUTES OF THE PREVIOUS MEETING", ("RESOLVED: That the minutes of the meeting held on {prev_meeting_date} be confirmed as a correct record.",
                                         "RESOLVED: That the minutes of the meeting held on {prev_meeting_date} be confirmed as a correct record, subject to the correction of a typographical error.")),
)
_MINUTES_CLOSING = (
    ("WORK PROGRAMME {fy}", ("The Committee considered the report of the Chief Legal and Democratic Officer seeking views on the draft Work Programme for {fy}.",
                             "RESOLVED: That the Work Programme for {fy} be noted and updated as discussed.")),
    ("CABINET MEMBER UPDATE REPORT", ("The Committee considered the report of the Chief Legal and Democratic Officer submitting the most recent update report from the Cabinet Member for {portfolio}.",
                                      "RESOLVED: That the update report from the Cabinet Member for {portfolio} be noted.")),
)
_REPORT_REASONS = (
    "The recommendations will enable the Council to meet its statutory duties to children in need and children in care.",
    "The proposals respond directly to the recommendations of the most recent Ofsted inspection.",
    "The recommendations support the delivery of the improvement plan agreed with the Department for Education.",
    "Members are asked to note the report so that they can scrutinise the progress of the service.",
    "Without additional capacity the service cannot reduce caseloads to a safe level.",
)
_REPORT_ALTERNATIVES = (
    "None. The Council has a statutory duty to provide these services.",
    "The option of continuing with the current arrangements was considered and rejected, as it would not deliver the improvements required.",
    "Commissioning the service from an external provider was considered and rejected on grounds of cost and quality.",
    "Not applicable, as this report is for information.",
)
_REPORT_REVENUE = (
    "The cost of {money_m} in {next_fy} will be met from the growth agreed in the budget for Children's Services.",
    "There are no additional revenue costs arising from this report.",
    "The additional cost of {money_k} a year will be met from the Children's Social Care budget.",
    "The proposals are funded from the {invest} investment approved by Council, of which {money_m} has been committed to date.",
)
_REPORT_CAPITAL = ("There are no capital costs arising from this report.",
                   "Capital costs of {money_m} are included in the Council's capital programme for {next_fy}.")
_REPORT_LEGAL = (
    "The Council has statutory duties under the Children Act 1989 to safeguard and promote the welfare of children in need.",
    "The Children and Social Work Act 2017 sets out the corporate parenting principles to which the Council must have regard.",
    "Under section 497A of the Education Act 1996 the Secretary of State may direct the Council in relation to its children's social care functions.",
    "The Children and Families Act 2014 sets out the Council's duties to children and young people with special educational needs and disabilities.",
)
_REPORT_EQUALITY = (
    "There are no equality implications.",
    "An Equality Impact Assessment has been completed and is available on request.",
    "The proposals will have a positive impact on children in care and care leavers, who share protected characteristics.",
)
_REPORT_PURPOSE = (
    "Protect the most vulnerable: the proposals will improve outcomes for the most vulnerable children and families in {council}.",
    "Facilitate confident and resilient communities: early support for families helps them to stay together safely.",
    "Commission, broker and provide core services: the Council will provide more of its own placements for children in care.",
)
_REPORT_CONSULTATION = (
    "The Executive Director of Corporate Resources (FD {fd_ref}) and the Chief Legal and Democratic Officer (LD {ld_ref}) have been consulted and any comments have been incorporated into the report.",
    "Children and young people in care were consulted through the Children in Care Council, '{cicc}'.",
    "Staff and trade unions have been consulted on the proposed changes to the structure.",
)
_PRESS_CLOSINGS = (
    "The agenda and papers for the meeting can be found at {url}",
    "For more information about fostering in {council}, visit {url}",
    "The full report can be read at {url}",
    "Please follow & like us",
)
_QUOTE_GENERIC = (
    "Of course, there is still much work to do, but we are confident that with our committed workforce our ambitious plans can be delivered.",
    "Our dedicated staff have a renewed sense of optimism and are committed to delivering the improvements needed.",
    "We want this for all our children and to make our support for vulnerable children and young people as good as it can be.",
    "I want to thank our staff, our partners and, most of all, the children and families who have worked with us.",
    "We will keep Members, partners and families informed as the work progresses.",
    "Making sure children are safe, protected and inspired to reach their full potential is our top priority.",
)
QUESTION_TEMPLATES = (
    "When did Ofsted inspect {council}'s children's services?",
    "What rating did Ofsted give {council}'s children's services in {year}?",
    "How much did the Cabinet approve for agency social workers in {year}?",
    "Who chairs the Improvement Board in {council}?",
    "Who was the Cabinet Member for Children's Social Care in {council} in {year}?",
    "How many children were in the care of {council} Council in {year}?",
    "What is the average social worker caseload in {council}?",
    "When was the improvement notice issued to {council}?",
    "Why was a government commissioner appointed to review {council}'s children's services?",
    "What did the commissioner recommend for children's services in {council}?",
    "What did the Corporate Parenting Board discuss in {month} {year}?",
    "How many new foster carers did {council} approve in {fy}?",
    "How big is the overspend on children's placements in {council} in {fy}?",
    "What support does {council} offer care leavers?",
    "Are care leavers in {council} exempt from council tax?",
    "How many Education, Health and Care Plans were issued on time in {council} in {fy}?",
    "What did the SEND inspection in {council} find in {year}?",
    "Which children's home did {council} close after an Ofsted inspection?",
    "What did the DfE advisor say about {council}'s progress in {year}?",
    "What proportion of {council}'s social workers are agency staff?",
    "What is the Fostering Friendly Borough agenda in {council}?",
    "When will the Ofsted report on {council} be published?",
    "Who was appointed Director of Children's Services in {council} in {year}?",
    "How much extra money did {council} put into children's services in {fy}?",
    "What market supplements does {council} pay social workers?",
    "What new practice model is {council} introducing?",
    "How many children are subject to a child protection plan in {council}?",
    "How many contacts did the {council} MASH receive in {fy}?",
    "What is the high needs block deficit in {council} for {fy}?",
    "How long does adoption take in {council}?",
    "How many children were adopted from care in {council} in {fy}?",
    "When did social work week take place in {council} in {year}?",
    "What did inspectors say about permanence planning in {council}?",
    "How many new children's homes is {council} planning to open?",
    "What did Cabinet decide about foster carer allowances in {council} in {year}?",
    "What are the workstreams of {council}'s improvement plan?",
    "How often does the {council} Improvement Board meet?",
    "What was discussed at the {council} Overview and Scrutiny Committee in {month} {year}?",
    "What did the Cabinet Member update for {month} {year} say about recruitment in {council}?",
    "How many agency social workers did {council} employ in {year}?",
    "What is the cost of external residential placements in {council}?",
    "How has Covid affected demand for children's social care in {council}?",
    "What did the Leader of {council} Council write to the Minister?",
    "What proportion of care leavers in {council} are in education, employment or training?",
    "How many children in care in {council} have an up-to-date Personal Education Plan?",
    "What did the Ofsted focused visit to {council} find in {year}?",
    "How many social workers joined the ASYE programme in {council} in {year}?",
    "Who is the Principal Social Worker in {council}?",
    "What is the turnover rate of children's social workers in {council}?",
    "What is the rate of children in care per 10,000 children in {council}?",
    "Which councils were rated inadequate by Ofsted in {year}?",
    "Which councils received an improvement notice in {year}?",
    "What was the children's social care budget in {council} in {fy}?",
    "How many foster carer households does {council} have?",
    "What did the Written Statement of Action for {council} say?",
    "Who is the Virtual School Head in {council}?",
)


# --- Filling templates ----------------------------------------------------------------------------

_ALTERNATIVES = re.compile(r"\[([^\[\]]*)\]")
_CURLY_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")


def _money_m(rng: random.Random) -> str:
    return f"£{round(rng.uniform(0.4, 12.0), 1):g} million"


def _day_month(rng: random.Random) -> str:
    return f"{_ordinal(rng.randint(1, 28))} {rng.choice(_MONTHS)}"


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _past(rng: random.Random, date: dt.date) -> dt.date:
    return date - dt.timedelta(days=rng.randint(7, 300))


_DATED_SLOTS: dict[str, Callable[[random.Random, dt.date], str]] = {
    "past_date": lambda rng, date: _long_date(_past(rng, date), ordinal=True),
    "past_day_month": lambda rng, date: _long_date(_past(rng, date), ordinal=True, year=False),
}
_RANDOM_SLOTS: dict[str, Callable[[random.Random], str]] = {
    "money_m": _money_m,
    "money_k": lambda rng: f"£{rng.randrange(40, 990, 5)},000",
    "money_k_small": lambda rng: f"£{rng.randrange(600, 9000, 10):,}",
    "pct": lambda rng: f"{rng.randint(3, 96)}%",
    "n": lambda rng: str(rng.randint(8, 90)),
    "n_small": lambda rng: str(rng.randint(2, 9)),
    "n_word": lambda rng: rng.choice(_NUMBER_WORDS),
    "n_large": lambda rng: f"{rng.randint(120, 4800):,}",
    "n_days": lambda rng: str(rng.randint(280, 620)),
    "weeks": lambda rng: str(rng.randint(3, 40)),
    "posts": lambda rng: str(rng.randint(6, 48)),
    "rate": lambda rng: str(rng.randint(45, 140)),
    "month_any": lambda rng: rng.choice(_MONTHS),
    "day_month": _day_month,
    "member": _person,
    "response": lambda rng: rng.choice(_RESPONSES),
}


class _Slots(dict):
    """The slot values of one paper: fixed ones (council, people, dates) and fresh random figures."""

    def __init__(self, fixed: dict[str, str], rng: random.Random, date: dt.date) -> None:
        super().__init__(fixed)
        self.rng = rng
        self.date = date

    def __missing__(self, key: str) -> str:
        if key in _DATED_SLOTS:
            return _DATED_SLOTS[key](self.rng, self.date)
        return _RANDOM_SLOTS[key](self.rng)


def _fill(template: str, slots: _Slots) -> str:
    """Choose among `[a|b]` alternatives, then fill `{slot}`s (a fresh figure at every random slot)."""
    rng = slots.rng
    text = _ALTERNATIVES.sub(lambda m: rng.choice(m.group(1).split("|")), template)
    return text.format_map(slots)


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _long_date(date: dt.date, ordinal: bool = False, year: bool = True) -> str:
    day = _ordinal(date.day) if ordinal else str(date.day)
    return f"{day} {_MONTHS[date.month - 1]}" + (f" {date.year}" if year else "")


def _month_year(date: dt.date) -> str:
    return f"{_MONTHS[date.month - 1]} {date.year}"


def _shift_months(date: dt.date, months: int) -> dt.date:
    index = date.year * 12 + date.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, min(date.day, 28))


def _fy(year: int) -> str:
    return f"{year}/{(year + 1) % 100:02d}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _words(text: str) -> int:
    return len(text.split())


# --- The invented world: each council-year has one cast and one set of headline facts -------------

@lru_cache(maxsize=4096)
def _council_year(seed: int, council_index: int, year: int) -> tuple[tuple[str, str], ...]:
    rng = random.Random(f"{seed}:council:{council_index}:{year}")
    short, full = COUNCILS[council_index]
    people = {key: _person(rng) for key in (
        "cllr", "cllr2", "leader", "chair_cllr", "chair", "dcs", "dcs_prev", "adcs", "adcs_interim",
        "advisor", "commissioner", "head_fostering", "head_send", "psw", "virtual_head", "finance",
        "manager")}
    if rng.random() < 0.2:
        people["cllr"] += " MBE"
    rating = rng.choices(_RATINGS, _RATING_WEIGHTS)[0]
    inspect = dt.date(year, rng.randint(1, 12), rng.randint(1, 28))
    others = [c for c in range(len(COUNCILS)) if c != council_index]
    facts = {
        **people,
        "council": short,
        "council_full": full,
        "region": _REGIONS[council_index % len(_REGIONS)],
        "partner": COUNCILS[rng.choice(others)][0],
        "rating": rating,
        "rating_cap": rating[0].upper() + rating[1:],
        "prev_rating": rng.choice([r for r in _RATINGS if r != rating]),
        "rating_home": rng.choice(_RATINGS),
        "prev_inspect_year": str(year - rng.randint(3, 5)),
        "inspect_date": f"{_ordinal(inspect.day)} {_MONTHS[inspect.month - 1]}",
        "inspect_month_year": _month_year(inspect),
        "inspect_weeks": str(rng.choice((1, 2, 3, 3, 3))),
        "visit_month_year": _month_year(_shift_months(inspect, -rng.randint(6, 18))),
        "notice_month_year": _month_year(_shift_months(inspect, rng.randint(1, 5))),
        "report_month_year": _month_year(_shift_months(inspect, rng.randint(2, 3))),
        "home": rng.choice(_HOMES),
        "model": rng.choice(_PRACTICE_MODELS),
        "cicc": rng.choice(_CHILDREN_IN_CARE_COUNCILS),
        "portfolio": rng.choice(_PORTFOLIOS),
        "scrutiny": rng.choice(_SCRUTINY),
        "invest": f"£{rng.randint(3, 15)} million",
        "cic": str(rng.randint(240, 980)),
        "cp": str(rng.randint(150, 620)),
        "cin": f"{rng.randint(1400, 4200):,}",
        "leavers": str(rng.randint(140, 480)),
        "carers": str(rng.randint(90, 310)),
        "ehcp": f"{rng.randint(1400, 4800):,}",
        "agency_pct": f"{rng.randint(8, 45)}%",
        "caseload": str(rng.randint(16, 32)),
        "caseload_target": str(rng.choice((15, 16, 18, 20))),
    }
    return tuple(facts.items())


def _paper_slots(seed: int, rng: random.Random, council_index: int, date: dt.date) -> _Slots:
    fixed = dict(_council_year(seed, council_index, date.year))
    short = fixed["council"]
    prev_meeting = date - dt.timedelta(days=rng.randint(28, 90))
    venue_short = rng.choice((f"{short} Town Hall", f"{short} Civic Centre", "the Municipal Buildings",
                              f"the {short} Community Hub"))
    fixed.update({
        "year": str(date.year), "prev_year": str(date.year - 1), "next_year": str(date.year + 1),
        "fy": _fy(date.year if date.month >= 4 else date.year - 1),
        "prev_fy": _fy((date.year if date.month >= 4 else date.year - 1) - 1),
        "next_fy": _fy((date.year if date.month >= 4 else date.year - 1) + 1),
        "date_long": _long_date(date),
        "date_ordinal": _long_date(date, ordinal=True),
        "weekday": _WEEKDAYS[date.weekday()],
        "month_year": _month_year(date),
        "month_year_prev": _month_year(_shift_months(date, -rng.randint(6, 18))),
        "next_month_year": _month_year(_shift_months(date, rng.randint(1, 4))),
        "prev_meeting_date": _long_date(prev_meeting),
        "minute_ref": str(rng.randint(10, 140)),
        "quarter_label": f"Quarter {rng.randint(1, 4)} {_fy(date.year)}",
        "venue_short": venue_short,
        "fd_ref": f"{rng.randint(1000, 7999)}/{date.year % 100:02d}",
        "ld_ref": f"{rng.randint(1000, 7999)}/{date.year % 100:02d}",
        "url": f"https://democracy.{_slug(short).replace('-', '')}.example/ieListDocuments.aspx?MId={rng.randint(1000, 19999)}",
    })
    return _Slots(fixed, rng, date)


# --- Papers ---------------------------------------------------------------------------------------

def generate_documents(n: int, seed: int = 0) -> list[SyntheticDocument]:
    """`n` papers; paper i depends only on (seed, i), so a shorter run is a prefix of a longer one."""
    return [generate_document(i, seed) for i in range(n)]


def generate_document(i: int, seed: int = 0) -> SyntheticDocument:
    """Paper number `i` of the corpus for `seed`."""
    rng = random.Random(f"{seed}:paper:{i}")
    doc_type = rng.choices(DOC_TYPES, _DOC_TYPE_WEIGHTS)[0]
    council_index = rng.randrange(len(COUNCILS))
    start = dt.date(FIRST_YEAR, 1, 1).toordinal()
    date = dt.date.fromordinal(rng.randint(start, dt.date(LAST_YEAR, 12, 31).toordinal()))
    while date.weekday() >= 5:
        date -= dt.timedelta(days=1)
    slots = _paper_slots(seed, rng, council_index, date)
    topics = _topic_order(rng)
    write = {"cabinet-member-update": _cabinet_member_update, "minutes": _minutes,
             "report": _report, "press-release": _press_release}[doc_type]
    title, committee, text = write(rng, slots, topics)
    if rng.random() < 0.5:
        text = _CURLY_APOSTROPHE.sub("’", text)
    doc_id = f"{_ID_PREFIX[doc_type]}-{date.isoformat()}-{_slug(slots['council'])}-{i:05d}"
    return SyntheticDocument(doc_id=doc_id, title=title, date=date.isoformat(), doc_type=doc_type,
                             council=slots["council_full"], committee=committee, text=text,
                             source=slots["url"])


def _topic_order(rng: random.Random) -> list[Topic]:
    order = list(TOPICS)
    rng.shuffle(order)
    return order


def _sentences(rng: random.Random, slots: _Slots, templates: tuple[str, ...], count: int,
               used: set[str]) -> list[str]:
    """Up to `count` filled templates not used before in this paper."""
    fresh = [t for t in templates if t not in used]
    chosen = rng.sample(fresh, min(count, len(fresh)))
    used.update(chosen)
    return [_fill(t, slots) for t in chosen]


def _paragraphs(rng: random.Random, slots: _Slots, topic: Topic, used: set[str],
                first_person: float = 0.0) -> list[str]:
    paragraphs = []
    for _ in range(rng.randint(1, 3)):
        sentences = _sentences(rng, slots, topic.facts, rng.randint(2, 5), used)
        if first_person and rng.random() < first_person:
            sentences += _sentences(rng, slots, topic.quotes, 1, used)
        if sentences:
            paragraphs.append(" ".join(sentences))
    return paragraphs


def _cabinet_member_update(rng: random.Random, slots: _Slots, topics: list[Topic]) -> tuple[str, str, str]:
    committee = slots["scrutiny"]
    long_date = slots["date_long"] if rng.random() < 0.5 else slots["date_ordinal"]
    header = ["CABINET MEMBER UPDATE", committee, long_date,
              "Councillor\tPortfolio\tPeriod of Report",
              f"Cllr. {slots['cllr']}\t{slots['portfolio']}\t{slots['month_year']}"]
    target = rng.randint(800, 2500)
    body: list[str] = []
    used: set[str] = set()
    for topic in topics:
        if _words("\n".join(body)) >= target:
            break
        body.append(_fill(rng.choice(topic.headings), slots))
        body.extend(_paragraphs(rng, slots, topic, used, first_person=0.3))
    title = f"Cabinet Member Update: {slots['portfolio']}, Cllr {slots['cllr']}, {slots['month_year']}"
    return title, committee, "\n\n".join(header + body) + "\n"


def _minutes(rng: random.Random, slots: _Slots, topics: list[Topic]) -> tuple[str, str, str]:
    committee = rng.choice((slots["scrutiny"], slots["scrutiny"], *_MINUTES_BODIES))
    body_name, preferred = _MINUTES_BODIES.get(committee, ("the Committee", TOPIC_NAMES))
    topics = sorted(topics, key=lambda t: t.name not in preferred)
    members = ", ".join(_person(rng) for _ in range(rng.randint(4, 9)))
    venue = ("remotely via Microsoft Teams" if slots["year"] in ("2020", "2021") and rng.random() < 0.6
             else slots["venue_short"])
    lines = [slots["council_full"].upper(),
             f"MINUTES OF THE MEETING OF THE {committee.upper()} HELD AT {venue.upper()} ON "
             f"{slots['weekday'].upper()} {slots['date_long'].upper()}",
             f"Present: Councillor {slots['chair_cllr']} (in the Chair); Councillors {members}.",
             f"Also Present: Councillor {slots['cllr']}, Cabinet Member for {slots['portfolio']}; "
             f"{slots['dcs']}, Director of Children's Services."]
    number = rng.randint(1, 90)
    for heading, choices in _MINUTES_OPENING:
        lines += [f"{number}. {heading}", _fill(rng.choice(choices), slots)]
        number += 1
    target = rng.randint(800, 2200)
    used: set[str] = set()
    officers = ((slots["dcs"], "Director of Children's Services"),
                (slots["adcs"], "Assistant Director of Safeguarding and Quality Assurance"),
                (slots["head_fostering"], "Head of Fostering"), (slots["psw"], "Principal Social Worker"),
                (slots["finance"], "Executive Director of Corporate Resources"),
                (slots["head_send"], "Head of SEND"))
    for topic in topics:
        if _words("\n".join(lines)) >= target:
            break
        officer, role = rng.choice(officers)
        subject = _fill(rng.choice(topic.subjects), slots)
        item = _Slots({**slots, "officer": officer, "officer_role": role, "item_subject": subject}, rng,
                      slots.date)
        item["concern"] = ""
        lines.append(f"{number}. {subject.upper()}")
        number += 1
        paragraph = [_fill(rng.choice(_MINUTES_INTRO), item)]
        for sentence in _sentences(rng, item, topic.facts, rng.randint(2, 5), used):
            paragraph.append(_reported(rng, sentence))
        lines.append(" ".join(paragraph))
        for template in rng.sample(_MINUTES_DISCUSSION, rng.randint(1, 3)):
            item["concern"] = _fill(rng.choice(topic.concerns), item)
            lines.append(_fill(template, item))
        actions = rng.sample(topic.actions, rng.randint(1, min(2, len(topic.actions))))
        resolved = [f"({k}) {_fill(a, item)}" for k, a in enumerate(actions, 1)]
        lines.append(f"RESOLVED: That {body_name} " + ("; and ".join(resolved) if len(resolved) > 1
                                                      else _fill(actions[0], item)) + ".")
    heading, choices = rng.choice(_MINUTES_CLOSING)
    lines += [f"{number}. {_fill(heading, slots)}", *(_fill(c, slots) for c in choices)]
    return f"Minutes: {committee}, {slots['date_long']}", committee, "\n\n".join(lines) + "\n"


_LOWER_STARTS = {"The", "A", "An", "There", "Every", "Only", "Children", "Recruitment", "Agency",
                 "Average", "Savings", "Capital", "Spend", "Demand", "Visits", "Strategy", "Early",
                 "Enquiries", "Foster", "Kinship", "Annual", "Home", "Free", "Court", "Life", "Practice",
                 "Case", "Feedback", "Peer", "Independent", "Councillors", "Immediate", "Investment",
                 "Domestic", "Re-referrals", "Return", "Market", "Exit", "Team", "Inspectors", "Young"}
_FIRST_PERSON = re.compile(r"\b(we|our|us|I)\b")


def _reported(rng: random.Random, sentence: str) -> str:
    """A fact as minutes record it: sometimes 'The report indicated that the ...'."""
    first = sentence.split(" ", 1)[0]
    if first in _LOWER_STARTS and not _FIRST_PERSON.search(sentence) and rng.random() < 0.5:
        return rng.choice(_MINUTES_REPORTED) + sentence[0].lower() + sentence[1:]
    return sentence


def _report(rng: random.Random, slots: _Slots, topics: list[Topic]) -> tuple[str, str, str]:
    committee = rng.choice((slots["scrutiny"], "Cabinet", "Cabinet", "Corporate Parenting Board", "Council"))
    main = topics[0]
    subject = _fill(rng.choice(main.subjects), slots)
    used: set[str] = set()
    author = rng.choice(("Executive Director of Children's Social Care and Education",
                         "Director of Children's Services", "Assistant Director of Children's Social Care"))
    body_name = "Cabinet" if committee == "Cabinet" else "Council" if committee == "Council" else "the Committee"
    actions = rng.sample(main.actions, rng.randint(1, min(3, len(main.actions))))
    lines = [
        f"Report to:\t{committee}\tDate of Meeting:\t{slots['weekday']} {slots['date_long']}",
        f"Subject:\t{subject}",
        f"Report of:\t{author}\tWards Affected:\t(All Wards);",
        f"Portfolio:\tCabinet Member - {slots['portfolio']}",
        f"Is this a Key Decision:\t{rng.choice(('Yes', 'No'))}\tIncluded in Forward Plan:\t{rng.choice(('Yes', 'No'))}",
        "Exempt / Confidential Report:\tNo",
        "Summary:",
        " ".join(_sentences(rng, slots, main.facts, rng.randint(2, 3), used)),
        "Recommendation(s):",
        f"{body_name} is recommended to:",
        *(f"({k}) {_fill(a, slots)};" for k, a in enumerate(actions, 1)),
        "Reasons for the Recommendation(s):",
        _fill(rng.choice(_REPORT_REASONS), slots),
        "Alternative Options Considered and Rejected: (including any Risk Implications)",
        _fill(rng.choice(_REPORT_ALTERNATIVES), slots),
        "What will it cost and how will it be financed?",
        "(A) Revenue Costs",
        _fill(rng.choice(_REPORT_REVENUE), slots),
        "(B) Capital Costs",
        _fill(rng.choice(_REPORT_CAPITAL), slots),
        "Implications of the Proposals:",
        "Legal Implications:",
        _fill(rng.choice(_REPORT_LEGAL), slots),
        "Equality Implications:",
        _fill(rng.choice(_REPORT_EQUALITY), slots),
        "Contribution to the Council's Core Purpose:",
        _fill(rng.choice(_REPORT_PURPOSE), slots),
        "What consultations have taken place on the proposals and when?",
        *(_fill(c, slots) for c in rng.sample(_REPORT_CONSULTATION, 2)),
        "Implementation Date for the Decision",
        "Immediately following the meeting.",
        f"Contact Officer:\t{slots['adcs']}",
        f"Telephone Number:\t01632 960{rng.randint(100, 999)}",
        f"Email Address:\t{slots['adcs'].split()[0].lower()}.{slots['adcs'].split()[-1].lower()}"
        f"@{_slug(slots['council']).replace('-', '')}.example",
        "Background Papers:",
        "There are no background papers available for inspection.",
    ]
    target = rng.randint(1000, 2500)
    section = 1
    for topic in [main, *topics[1:]]:
        if _words("\n".join(lines)) >= target:
            break
        heading = "Introduction and Background" if section == 1 else _fill(rng.choice(topic.headings), slots)
        lines.append(f"{section}. {heading}")
        paragraphs = _paragraphs(rng, slots, topic, used) + (_paragraphs(rng, slots, topic, used)
                                                             if topic is main else [])
        lines += [f"{section}.{k} {p}" for k, p in enumerate(paragraphs, 1)]
        section += 1
    return subject, committee, "\n\n".join(lines) + "\n"


def _press_release(rng: random.Random, slots: _Slots, topics: list[Topic]) -> tuple[str, None, str]:
    main, second = topics[0], topics[1]
    headline = _fill(rng.choice(main.headlines), slots)
    used: set[str] = set()
    leads = [t for t in main.facts if "{council}" in t] or list(main.facts)
    lead = rng.choice(leads)
    used.add(lead)
    lines = [headline, slots["date_ordinal"] if rng.random() < 0.5 else "",
             " ".join([_fill(lead, slots), *_sentences(rng, slots, main.facts, 1, used)]),
             " ".join(_sentences(rng, slots, main.facts, rng.randint(1, 3), used))]
    target = rng.randint(300, 560)
    speakers = [(f"Cllr {slots['cllr']}", f"Cabinet Member for {slots['portfolio']}"),
                (slots["dcs"], f"Director of Children's Services at {slots['council_full']}"),
                (f"Cllr {slots['leader']}", f"Leader of {slots['council_full']}")]
    rng.shuffle(speakers)
    for k, (name, role) in enumerate(speakers):
        if k and _words("\n".join(lines)) >= target:
            break
        quotes = [q for q in main.quotes + second.quotes + _QUOTE_GENERIC if q not in used]
        chosen = rng.sample(quotes, min(len(quotes), rng.randint(3, 6)))
        used.update(chosen)
        sentences = [_fill(q, slots) for q in chosen]
        paragraphs: list[str] = []
        while sentences and (not paragraphs or _words("\n".join(lines + paragraphs)) < target):
            take = rng.randint(1, 2)
            paragraphs.append(" ".join(sentences[:take]))
            sentences = sentences[take:]
        said = rng.choice(("said", "added", "commented"))
        quoted = [f"{name}, {role}, {said}: “{paragraphs[0]}"] + [f"“{p}" for p in paragraphs[1:]]
        quoted[-1] += "”"
        lines += quoted
        if _words("\n".join(lines)) < target - 40:
            lines.append(" ".join(_sentences(rng, slots, main.facts + second.facts, rng.randint(1, 3), used)))
    lines.append(_fill(rng.choice(_PRESS_CLOSINGS), slots))
    return headline, None, "\n\n".join(line for line in lines if line) + "\n"


# --- Files ----------------------------------------------------------------------------------------

def toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    escaped = []
    for char in value:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04X}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def manifest_text(documents: list[SyntheticDocument]) -> str:
    """A manifest.toml for `documents`, in the format of corpus/manifest.toml."""
    out = ["# Synthetic council papers written by bench/synthetic.py; councils, people and figures are invented.",
           "# Fields: id, title, date (YYYY-MM-DD), doc_type, council, committee, source.", ""]
    for doc in documents:
        out.append(f"[documents.{toml_string(doc.file_name)}]")
        fields = {"id": doc.doc_id, "title": doc.title, "date": doc.date, "doc_type": doc.doc_type,
                  "council": doc.council, "committee": doc.committee, "source": doc.source}
        out += [f"{key} = {toml_string(value)}" for key, value in fields.items() if value is not None]
        out.append("")
    return "\n".join(out)


def write_corpus(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """Write `n` papers as .txt files and their manifest.toml into `folder`; return the .txt paths."""
    folder.mkdir(parents=True, exist_ok=True)
    documents = generate_documents(n, seed)
    paths = []
    for doc in documents:
        path = folder / doc.file_name
        path.write_text(doc.text, encoding="utf-8")
        paths.append(path)
    (folder / "manifest.toml").write_text(manifest_text(documents), encoding="utf-8")
    return paths


# --- Chunk-sized texts and questions --------------------------------------------------------------

@lru_cache(maxsize=8)
def _chunk_pool(seed: int) -> tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[int, ...]], ...]:
    """Per topic: titles, and filled sentences of at most 30 words with their word counts."""
    pool = []
    for topic in TOPICS:
        rng = random.Random(f"{seed}:pool:{topic.name}")
        sentences: list[str] = []
        titles: list[str] = []
        slots = None
        attempts = 0
        while len(sentences) < _POOL_SENTENCES_PER_TOPIC and attempts < 20 * _POOL_SENTENCES_PER_TOPIC:
            if attempts % 25 == 0:
                date = dt.date(rng.randint(FIRST_YEAR, LAST_YEAR), rng.randint(1, 12), rng.randint(1, 28))
                slots = _paper_slots(seed, rng, rng.randrange(len(COUNCILS)), date)
                if len(titles) < _POOL_TITLES_PER_TOPIC:
                    titles.append(_pool_title(rng, slots, topic))
            attempts += 1
            templates = topic.facts if rng.random() < 0.85 else topic.quotes
            sentence = _fill(rng.choice(templates), slots)
            if _words(sentence) <= _MAX_POOL_SENTENCE_WORDS:
                sentences.append(sentence)
        pool.append((topic.name, tuple(titles), tuple(sentences), tuple(_words(s) for s in sentences)))
    return tuple(pool)


def _pool_title(rng: random.Random, slots: _Slots, topic: Topic) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return f"Cabinet Member Update: {slots['portfolio']}, Cllr {slots['cllr']}, {slots['month_year']}"
    if kind == 1:
        return f"Minutes: {slots['scrutiny']}, {slots['date_long']}"
    if kind == 2:
        return _fill(rng.choice(topic.subjects), slots)
    return _fill(rng.choice(topic.headlines), slots)


def chunk_records(n: int, seed: int = 0) -> Iterator[tuple[str, str]]:
    """`n` (topic, "title\\ntext") pairs; each text has 60-89 words of whole sentences of one topic.

    Sentences are drawn from a cached pool (800 a topic), so this streams about a million texts in
    well under a minute; text i does not depend on n.
    """
    pool = _chunk_pool(seed)
    rng = random.Random(f"{seed}:chunks")
    rand = rng.random
    topics = len(pool)
    for _ in range(n):
        name, titles, sentences, counts = pool[int(rand() * topics)]
        size = len(sentences)
        parts = []
        words = 0
        while words < CHUNK_MIN_WORDS:
            j = int(rand() * size)
            parts.append(sentences[j])
            words += counts[j]
        yield name, titles[int(rand() * len(titles))] + "\n" + " ".join(parts)


def chunk_texts(n: int, seed: int = 0) -> Iterator[str]:
    """The texts of `chunk_records(n, seed)`."""
    return (text for _, text in chunk_records(n, seed))


def questions(n: int, seed: int = 0) -> list[str]:
    """`n` distinct questions about the synthetic papers' topics; a shorter list is a prefix of a longer."""
    rng = random.Random(f"{seed}:questions")
    found: dict[str, None] = {}
    attempts = 0
    while len(found) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise ValueError(f"cannot make {n} distinct questions from {len(QUESTION_TEMPLATES)} templates")
        year = rng.randint(FIRST_YEAR, LAST_YEAR)
        values = {"council": rng.choice(COUNCILS)[0], "year": str(year), "fy": _fy(year),
                  "month": rng.choice(_MONTHS)}
        found.setdefault(rng.choice(QUESTION_TEMPLATES).format_map(values))
    return list(found)


def template_count() -> int:
    """How many sentence, heading and title templates the generator draws on."""
    per_topic = sum(len(t.facts) + len(t.quotes) + len(t.headings) + len(t.subjects) + len(t.headlines)
                    + len(t.concerns) + len(t.actions) for t in TOPICS)
    shared = (len(_MINUTES_INTRO) + len(_MINUTES_DISCUSSION) + len(_RESPONSES) + len(_REPORT_REASONS)
              + len(_REPORT_ALTERNATIVES) + len(_REPORT_REVENUE) + len(_REPORT_CAPITAL) + len(_REPORT_LEGAL)
              + len(_REPORT_EQUALITY) + len(_REPORT_PURPOSE) + len(_REPORT_CONSULTATION)
              + len(_PRESS_CLOSINGS) + len(_QUOTE_GENERIC)
              + sum(len(c) for _, c in _MINUTES_OPENING + _MINUTES_CLOSING))
    return per_topic + shared


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic corpus of council papers and its manifest.")
    parser.add_argument("folder", type=Path, help="output folder (created if missing)")
    parser.add_argument("--n", type=int, default=2000, help="number of papers (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    paths = write_corpus(args.folder, args.n, args.seed)
    words = sum(_words(p.read_text(encoding="utf-8")) for p in paths)
    print(f"wrote {len(paths)} papers ({words:,} words) and manifest.toml to {args.folder} "
          f"in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
