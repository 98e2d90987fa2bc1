"""Operating procedures of the fictional demo contributors, written in each of the six languages.

One text per language, filled in per contributor with its office name, the country phrase that
fits the sentence in that language, a contact address under `.example` and a reply time.
"""

# The phrase naming each country where the description says "the national body <of country>".
COUNTRY_PHRASES = {
    "ar": {"IT": "إيطاليا", "KR": "جمهورية كوريا", "BR": "البرازيل", "ES": "إسبانيا", "UA": "أوكرانيا",
           "JP": "اليابان"},
    "zh-hans": {"IT": "意大利", "KR": "大韩民国", "BR": "巴西", "ES": "西班牙", "UA": "乌克兰", "JP": "日本"},
    "en": {"IT": "of Italy", "KR": "of the Republic of Korea", "BR": "of Brazil", "ES": "of Spain",
           "UA": "of Ukraine", "JP": "of Japan"},
    "fr": {"IT": "de l'Italie", "KR": "de la République de Corée", "BR": "du Brésil", "ES": "de l'Espagne",
           "UA": "de l'Ukraine", "JP": "du Japon"},
    "ru": {"IT": "Италии", "KR": "Республики Корея", "BR": "Бразилии", "ES": "Испании", "UA": "Украины",
           "JP": "Японии"},
    "es": {"IT": "de Italia", "KR": "de la República de Corea", "BR": "de Brasil", "ES": "de España",
           "UA": "de Ucrania", "JP": "de Japón"},
}

TEXTS = {
    "ar": {
        "description": "{office} هيئة وهمية أُنشئت لأغراض العرض التوضيحي لمنصة SiteAlert. وهي تمثل في هذا العرض "
                       "الجهة الوطنية المختصة في {country}، التي تقرر، وفقًا لقانون حق المؤلف الوطني، أي المواقع "
                       "الإلكترونية والتطبيقات تنتهك حق المؤلف على نطاق تجاري.",
        "contact": "مكتب القوائم، {office}\nالبريد الإلكتروني: {email}\nنرد في غضون {days} يوم عمل. "
                   "(بيانات تجريبية: هذا العنوان غير موجود.)",
        "criteria": "لا يُدرج الموقع في القائمة إلا إذا كان يتيح مصنفات محمية دون إذن على نطاق تجاري، ويحقق دخلًا "
                    "من الإعلانات أو الاشتراكات، وتجاهل مشغله إشعارين على الأقل من أصحاب الحقوق.",
        "procedure": "يقدم أصحاب الحقوق شكوى مشفوعة بالأدلة. ويتحقق موظف مختص من الأدلة ويُخطر مشغل الموقع، الذي "
                     "يُمنح مهلة 15 يومًا للرد. ثم يُتخذ قرار يُنشر برقم مرجعي، ويُضاف الموقع إلى SiteAlert في "
                     "اليوم نفسه.",
        "appeal": "يجوز لمشغل الموقع المدرج، أو لأي شخص متأثر بالإدراج، أن يطلب المراجعة في أي وقت عبر SiteAlert أو "
                  "بالبريد الإلكتروني على العنوان {email}، مع بيان الأسباب وتقديم ما لديه من أدلة. ونرد في غضون {days} "
                  "يوم عمل: إما بالإبقاء على الإدراج مع بيان الأسباب، وإما بإزالته. ويجوز الطعن في قرار الإبقاء أمام "
                  "المحكمة الإدارية الوطنية المختصة في غضون 60 يومًا. (بيانات تجريبية: إجراء وهمي.)",
    },
    "zh-hans": {
        "description": "{office}是为 SiteAlert 演示而设立的虚构机构。在本演示中，它代表{country}的国家主管机关，"
                       "依据本国著作权法认定哪些网站和应用程序以商业规模侵犯著作权。",
        "contact": "{office} 名单事务处\n电子邮件：{email}\n我们将在{days}个工作日内答复。"
                   "（演示数据：该地址并不存在。）",
        "criteria": "只有当网站未经授权以商业规模提供受保护的作品、通过广告或订阅获取收入，"
                    "并且其经营者无视权利人至少两次通知时，才会被列入名单。",
        "procedure": "权利人提交附有证据的投诉。承办人员核实证据并通知网站经营者，经营者有15天时间作出答复。"
                     "随后作出决定，并附编号予以公布；网站于同日被加入 SiteAlert。",
        "appeal": "被列入名单的网站经营者或任何受影响的人可随时通过 SiteAlert 或发送电子邮件至 {email} 申请复核，"
                  "并说明理由、提供证据。我们将在{days}个工作日内答复：或维持列名并说明理由，或予以移除。"
                  "对维持列名的决定不服的，可在60日内向有管辖权的国家行政法院提起上诉。（演示数据：虚构的程序。）",
    },
    "en": {
        "description": "{office} is a fictional authority created for the SiteAlert demo. In this demo it stands for "
                       "the national body {country} that decides, under national copyright law, which websites and "
                       "apps infringe copyright on a commercial scale.",
        "contact": "Listings desk, {office}\nE-mail: {email}\nWe reply within {days} working days. "
                   "(Demo data: this address does not exist.)",
        "criteria": "A site is listed only when it makes protected works available without authorization on a "
                    "commercial scale, earns money from advertising or subscriptions, and its operator ignored at "
                    "least two notices from right holders.",
        "procedure": "Right holders file a complaint with evidence. A case officer verifies the evidence and notifies "
                     "the site operator, who has 15 days to respond. A decision is then taken and published with a "
                     "reference number; the site is added to SiteAlert on the same day.",
        "appeal": "The operator of a listed site, or anyone affected by a listing, can ask for a review at any time "
                  "through SiteAlert or by e-mail to {email}, giving the reasons and any evidence. We answer within "
                  "{days} working days: the listing is either upheld, with an explanation, or removed. A decision to "
                  "uphold it can be appealed before the competent national administrative court within 60 days. "
                  "(Demo data: a fictional procedure.)",
    },
    "fr": {
        "description": "{office} est une autorité fictive créée pour la démonstration de SiteAlert. Dans cette "
                       "démonstration, elle représente l'organisme national {country} qui décide, en application du "
                       "droit d'auteur national, quels sites et applications portent atteinte au droit d'auteur à une "
                       "échelle commerciale.",
        "contact": "Service des inscriptions, {office}\nCourriel : {email}\n"
                   "Nous répondons sous {days} jours ouvrables. "
                   "(Données de démonstration : cette adresse n'existe pas.)",
        "criteria": "Un site n'est inscrit que s'il met à disposition des œuvres protégées sans autorisation à une "
                    "échelle commerciale, s'il tire des revenus de la publicité ou d'abonnements et si son exploitant "
                    "a ignoré au moins deux notifications des titulaires de droits.",
        "procedure": "Les titulaires de droits déposent une plainte accompagnée de preuves. Un rapporteur vérifie les "
                     "preuves et informe l'exploitant du site, qui dispose de 15 jours pour répondre. Une décision est "
                     "ensuite rendue et publiée avec un numéro de référence ; le site est ajouté à SiteAlert le jour "
                     "même.",
        "appeal": "L'exploitant d'un site inscrit, ou toute personne concernée par une inscription, peut demander un "
                  "réexamen à tout moment via SiteAlert ou par courriel à {email}, en indiquant ses motifs et ses "
                  "preuves éventuelles. Nous répondons sous {days} jours ouvrables : l'inscription est soit maintenue, "
                  "avec une explication, soit retirée. Une décision de maintien peut faire l'objet d'un recours devant "
                  "la juridiction administrative nationale compétente dans un délai de 60 jours. "
                  "(Données de démonstration : procédure fictive.)",
    },
    "ru": {
        "description": "{office} — вымышленный орган, созданный для демонстрации SiteAlert. В этой демонстрации он "
                       "представляет национальное ведомство {country}, которое в соответствии с национальным "
                       "законодательством об авторском праве решает, какие сайты и приложения нарушают авторское право "
                       "в коммерческих масштабах.",
        "contact": "Отдел ведения списка, {office}\nЭлектронная почта: {email}\nОтвечаем в течение {days} рабочих "
                   "дней. (Демонстрационные данные: этого адреса не существует.)",
        "criteria": "Сайт включается в список, только если он без разрешения предоставляет доступ к охраняемым "
                    "произведениям в коммерческих масштабах, получает доход от рекламы или подписок, а его владелец "
                    "проигнорировал не менее двух уведомлений правообладателей.",
        "procedure": "Правообладатели подают жалобу с доказательствами. Ответственный сотрудник проверяет "
                     "доказательства и уведомляет владельца сайта, у которого есть 15 дней для ответа. Затем "
                     "принимается решение, которое публикуется с регистрационным номером; в тот же день сайт "
                     "добавляется в SiteAlert.",
        "appeal": "Владелец включённого в список сайта или любое затронутое лицо может в любое время запросить "
                  "пересмотр через SiteAlert или по электронной почте {email}, указав причины и приложив имеющиеся "
                  "доказательства. Мы отвечаем в течение {days} рабочих дней: сайт либо остаётся в списке (с "
                  "объяснением причин), либо исключается из него. Решение об оставлении в списке может быть "
                  "обжаловано в компетентном национальном административном суде в течение 60 дней. "
                  "(Демонстрационные данные: вымышленная процедура.)",
    },
    "es": {
        "description": "{office} es una autoridad ficticia creada para la demostración de SiteAlert. En esta "
                       "demostración representa al organismo nacional {country} que decide, conforme a la legislación "
                       "nacional de derechos de autor, qué sitios web y aplicaciones infringen los derechos de autor a "
                       "escala comercial.",
        "contact": "Unidad de listados, {office}\nCorreo electrónico: {email}\nRespondemos en un plazo de {days} días "
                   "hábiles. (Datos de demostración: esta dirección no existe.)",
        "criteria": "Un sitio solo se incluye en la lista cuando ofrece obras protegidas sin autorización a escala "
                    "comercial, obtiene ingresos de publicidad o suscripciones y su operador ha ignorado al menos dos "
                    "avisos de los titulares de derechos.",
        "procedure": "Los titulares de derechos presentan una denuncia con pruebas. Un instructor verifica las pruebas "
                     "y notifica al operador del sitio, que dispone de 15 días para responder. "
                     "A continuación se adopta "
                     "una decisión, que se publica con un número de referencia; el sitio se añade a SiteAlert el mismo "
                     "día.",
        "appeal": "El operador de un sitio incluido, o cualquier persona afectada por una inclusión, puede solicitar "
                  "una revisión en cualquier momento a través de SiteAlert o por correo electrónico a {email}, "
                  "exponiendo sus motivos y las pruebas de que disponga. Respondemos en un plazo de {days} días "
                  "hábiles: la inclusión se mantiene, con una explicación, o se retira. La decisión de mantenerla "
                  "puede recurrirse ante el tribunal contencioso-administrativo nacional competente en un plazo de "
                  "60 días. (Datos de demostración: procedimiento ficticio.)",
    },
}

def procedure_texts(language, *, office, country, email, days):
    """The five published fields of one contributor's procedure in `language`."""
    values = {"office": office, "country": COUNTRY_PHRASES[language][country], "email": email, "days": days}
    return {name: text.format(**values) for name, text in TEXTS[language].items()}
