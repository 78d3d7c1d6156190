-- Answer labels as data (callcenter/scoring/rules.py): each rule set lists the labels it accepts
-- in the city's 是否联系 / 是否解决 / 是否满意 columns and the answer each one is, as
-- [question, label, answer] triples.  The import turns a label into its answer with the rule set in
-- force on the ticket's 来电时间; a label no rule set accepts is refused with its row and column.
ALTER TABLE rule_sets ADD COLUMN answer_labels jsonb NOT NULL DEFAULT '[]'::jsonb;
UPDATE rule_sets SET answer_labels = '[["contacted", "已联系", "是"], ["contacted", "未联系", "否"],
    ["solved", "解决", "已解决"], ["solved", "是", "已解决"], ["solved", "否", "未解决"],
    ["solved", "基本解决", "部分解决"], ["satisfied", "是", "满意"], ["satisfied", "否", "不满意"],
    ["satisfied", "非常满意", "满意"], ["satisfied", "比较满意", "基本满意"]]'::jsonb;
