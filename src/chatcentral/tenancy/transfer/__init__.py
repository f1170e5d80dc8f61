"""Moving one shop: export its schema and central rows to a file, import it elsewhere,
delete it after an export (`chatcentral tenant export|import|delete`)."""
